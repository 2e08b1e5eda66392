/* rule_match.c - judging commands and masking result fields with a loaded rule set.
 *
 * This is packet-path code: no allocation, no locks, no logging; a scan error is
 * returned for the caller to count. The rule set is read-only here; everything that
 * changes lives in the caller's rule_scratch.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "rules/rule.h"
#include "rules/rule_int.h"
#include "rules/validators.h"

/* State of one rule_check_command() call, for the match callback. */
struct rm_cmd_ctx {
	const struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_verdict *v;
	uint16_t res;
	uint8_t any_unless;          /* a rule with unless patterns was seen */
};

/* State of one rule_mask_fields() call, for the match callbacks. */
struct rm_mask_ctx {
	const struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_mask_stats *st;
	uint16_t res;
	/* prefilter pass over a slice */
	const struct rule_slice *sl; /* the slice being scanned */
	unsigned last;               /* slice field of the previous hit (matches come mostly in order) */
	/* exact pass over one field, from <base> on */
	const uint8_t *win;          /* field + base */
	uint32_t wlen;
	uint32_t base;
	unsigned n_ranges;
	uint8_t overflow;            /* ranges[] was full: the scan stopped at lost_from */
	uint32_t lost_from;
	/* exact pass of one rule over a batch (struct rule_batch) */
	uint8_t *buf;                /* the caller's buffer, where masks go */
	const struct rule_field *fields;
	unsigned xcur;               /* batch field whose ranges are in ranges[] */
	unsigned xlast;              /* batch field of the previous match */
	uint8_t xmasked;             /* a range was masked since xcur was last reset */
};

/* ---- commands ---------------------------------------------------------------------- */

/* Lets rule <ri> decide if it outranks the verdict so far: a higher action wins, and
 * among equal actions the rule written first. */
static void rm_decide(struct rm_cmd_ctx *c, uint32_t ri)
{
	const struct rule *r = &c->rs->rules[ri];
	struct rule_verdict *v = c->v;

	if (r->action == RULE_ALERT)
		v->n_alerts++;
	if (r->action > v->action || (r->action == v->action && (v->rule < 0 || (int32_t)ri < v->rule))) {
		v->action = r->action;
		v->rule = (int32_t)ri;
		v->id = r->id;
		v->message = r->message;
	}
}

static int rm_on_cmd(unsigned int id, unsigned long long from, unsigned long long to,
		     unsigned int flags, void *ctx)
{
	struct rm_cmd_ctx *c = ctx;
	uint32_t ri = id & ~RULE_ID_UNLESS;
	const struct rule *r;

	if (ri >= c->rs->n_rules)
		return 0;
	r = &c->rs->rules[ri];
	if (!rule_applies(r, c->res))
		return 0;
	if (r->unless_slot >= 0) {
		/* decided once every scan is done: an unless pattern may match later */
		uint64_t *bits = (id & RULE_ID_UNLESS) ? c->s->veto : c->s->cand;

		bits[r->unless_slot / 64] |= 1ull << (r->unless_slot % 64);
		c->any_unless = 1;
		return 0;
	}
	rm_decide(c, ri);
	return 0;
}

int rule_check_command(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
		       uint16_t res, const char *norm, uint32_t nlen, const char *fp,
		       uint32_t fplen, const char *raw, uint32_t rawlen, struct rule_verdict *v)
{
	const char *text[3] = { norm, fp, raw };
	const uint32_t tlen[3] = { nlen, fplen, rawlen };
	struct rm_cmd_ctx c = { .rs = rs, .s = s, .v = v, .res = res };
	unsigned words;

	memset(v, 0, sizeof(*v));
	v->action = RULE_ALLOW;
	v->rule = -1;
	if (rs == NULL || proto >= DP_PROTO__MAX)
		return 0;
	if (s == NULL || s->unless_cap < rs->n_unless)
		return -1;
	words = (rs->n_unless + 63) / 64;
	if (words > 0) {
		memset(s->cand, 0, words * sizeof(uint64_t));
		memset(s->veto, 0, words * sizeof(uint64_t));
	}
	for (unsigned k = RULE_DB_STATEMENT; k <= RULE_DB_RAW; k++) {
		const hs_database_t *db = rs->db[proto][k];

		if (db == NULL || text[k] == NULL || tlen[k] == 0)
			continue;
		if (hs_scan(db, text[k], tlen[k], 0, s->hs, rm_on_cmd, &c) != HS_SUCCESS)
			goto fail;
	}
	if (c.any_unless)
		for (unsigned w = 0; w < words; w++) {
			uint64_t b = s->cand[w] & ~s->veto[w];

			while (b != 0) {
				unsigned slot = w * 64 + (unsigned)__builtin_ctzll(b);

				b &= b - 1;
				rm_decide(&c, rs->unless_rules[slot]);
			}
		}
	return 0;
fail:
	memset(v, 0, sizeof(*v));
	v->action = RULE_ALLOW;
	v->rule = -1;
	return -1;
}

/* ---- columns ----------------------------------------------------------------------- */

const struct rule_mask *rule_column_mask(const struct rule_set *rs, uint8_t proto, uint16_t res,
					 const char *name, uint32_t len, int32_t *rule)
{
	if (rule != NULL)
		*rule = -1;
	if (rs == NULL || proto >= DP_PROTO__MAX || name == NULL)
		return NULL;
	for (unsigned k = 0; k < rs->n_cols[proto]; k++) {
		uint32_t ri = rs->cols[proto][k];
		const struct rule *r = &rs->rules[ri];

		if (!rule_applies(r, res))
			continue;
		for (unsigned i = 0; i < r->n_cols; i++)
			if (strlen(r->cols[i]) == len && strncasecmp(r->cols[i], name, len) == 0) {
				if (rule != NULL)
					*rule = (int32_t)ri;
				return &r->mask;
			}
	}
	return NULL;
}

static int rm_res_bit(const uint64_t *bits, uint16_t res)
{
	return res < DP_MAX_RESOURCES && (bits[res / 64] >> (res % 64) & 1);
}

int rule_has_result_rules(const struct rule_set *rs, uint8_t proto, uint16_t res)
{
	if (rs == NULL || proto >= DP_PROTO__MAX)
		return 0;
	return rs->result_all[proto] || rm_res_bit(rs->result_res[proto], res);
}

int rule_has_command_rules(const struct rule_set *rs, uint8_t proto)
{
	if (rs == NULL || proto >= DP_PROTO__MAX)
		return 0;
	return rs->db[proto][RULE_DB_STATEMENT] || rs->db[proto][RULE_DB_FINGERPRINT] ||
	       rs->db[proto][RULE_DB_RAW];
}

/* ---- masking ----------------------------------------------------------------------- */

/* Bytes of the character at p[i]: a UTF-8 lead byte takes its continuation bytes
 * along, so that a kept or masked character is never cut in half. */
static uint32_t rm_char_len(const uint8_t *p, uint32_t i, uint32_t len)
{
	uint32_t n = 1;

	if (p[i] >= 0xc0)
		while (n < 4 && i + n < len && (p[i + n] & 0xc0) == 0x80)
			n++;
	return n;
}

/* Whether the character starting with byte <c> is masked (and counted by keep_*):
 * with preserve_class only letters and digits (any non-ASCII character counts as a
 * letter), else every character. */
static int rm_maskable(const struct rule_mask *m, uint8_t c)
{
	if (!m->preserve_class)
		return 1;
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Whether the <len> bytes at <p> are all ASCII (one OR over them, which compilers
 * vectorise). */
static int rm_is_ascii(const uint8_t *p, uint32_t len)
{
	uint8_t acc = 0;

	for (uint32_t i = 0; i < len; i++)
		acc |= p[i];
	return acc < 0x80;
}

static inline int rm_alnum(uint8_t c)
{
	return (uint8_t)(c - '0') < 10 || (uint8_t)((c | 0x20) - 'a') < 26;
}

/* rule_mask_apply() for pure ASCII (most data): a character is a byte, so the masked
 * characters are a run of bytes (preserve_class off) or the letters and digits between
 * the first keep_first and the last keep_last of them; same result as the general loop
 * below. */
static void rm_mask_ascii(const struct rule_mask *m, uint8_t ch, uint8_t *p, uint32_t len)
{
	uint32_t kf = m->keep_first, kl = m->keep_last, total = 0, i = 0, left;

	if (!m->preserve_class) {
		if (len <= kf + kl)
			memset(p, ch, len);      /* too short to keep anything */
		else
			memset(p + kf, ch, len - kf - kl);
		return;
	}
	for (uint32_t k = 0; k < len; k++)
		total += (uint32_t)rm_alnum(p[k]);
	if (total <= kf + kl) {
		for (uint32_t k = 0; k < len; k++)
			if (rm_alnum(p[k]))
				p[k] = ch;
		return;
	}
	for (uint32_t n = 0; n < kf; i++)
		n += (uint32_t)rm_alnum(p[i]);
	for (left = total - kf - kl; left > 0; i++)
		if (rm_alnum(p[i])) {
			p[i] = ch;
			left--;
		}
}

void rule_mask_apply(const struct rule_mask *m, uint8_t *p, uint32_t len)
{
	uint32_t total = 0, idx = 0, cl;
	uint8_t ch;
	bool keep;

	if (m == NULL || p == NULL)
		return;
	ch = m->ch != 0 ? m->ch : '*';
	if (rm_is_ascii(p, len)) {
		rm_mask_ascii(m, ch, p, len);
		return;
	}
	/* UTF-8: a character's bytes are kept or masked together */
	for (uint32_t i = 0; i < len; i += cl) {
		cl = rm_char_len(p, i, len);
		total += rm_maskable(m, p[i]);
	}
	/* a value too short to keep that much and still hide something is hidden whole */
	keep = total > (uint32_t)m->keep_first + m->keep_last;
	for (uint32_t i = 0; i < len; i += cl) {
		cl = rm_char_len(p, i, len);
		if (!rm_maskable(m, p[i]))
			continue;
		if (!keep || (idx >= m->keep_first && idx < total - m->keep_last)) {
			if (cl == 1)
				p[i] = ch; /* ASCII: no call per character */
			else
				memset(p + i, ch, cl);
		}
		idx++;
	}
}

static int rm_field_ok(const struct rule_field *f, uint32_t len)
{
	return f->off <= len && f->len <= len - f->off;
}

/* memcpy() of <n> bytes, without a call for the short fields that most are: two
 * overlapping loads and stores cover 4 to 16 bytes. */
static inline void rm_copy(uint8_t *dst, const uint8_t *src, uint32_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a, b;

		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;

		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
	} else if (n < 4) {
		for (uint32_t i = 0; i < n; i++)
			dst[i] = src[i];
	} else {
		memcpy(dst, src, n);
	}
}

/* The field holding offset <pos> of joined text whose <n> fields start at <js>[0..n]
 * (binary search; <*last>, the previous answer, is tried first: matches come mostly in
 * order). */
static unsigned rm_join_field(const uint32_t *js, unsigned n, unsigned *last, uint32_t pos)
{
	unsigned lo = 0, hi = n;

	if (*last < n && js[*last] <= pos && pos < js[*last + 1])
		return *last;
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (js[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	*last = lo;
	return lo;
}

/* Prefilter hit: marks the rule in the field holding the match's last byte. A match
 * that ends on a separator belongs to no field; one that began in an earlier field is
 * dropped by the exact pass, which sees the field alone. */
static int rm_on_pre(unsigned int id, unsigned long long from, unsigned long long to,
		     unsigned int flags, void *ctx)
{
	struct rm_mask_ctx *c = ctx;
	const struct rule *r;
	uint32_t pos;
	unsigned k;

	if (id >= c->rs->n_rules || to == 0)
		return 0;
	r = &c->rs->rules[id];
	if (!rule_applies(r, c->res))
		return 0;
	pos = (uint32_t)(to - 1);
	k = rm_join_field(c->sl->jstart, c->sl->n, &c->last, pos);
	if (pos + 1 == c->sl->jstart[k + 1])
		return 0;                /* the '\n' after field k */
	c->s->hit[k] |= 1ull << r->fbit;
	return 0;
}

/* Adds the range [<f>, <t>) of rule <id> to the <*n> ranges at <rg>, merged with an
 * overlapping range of the same rule. Returns 0, or -1 when the range is new and
 * RULE_RANGES_MAX are held already. */
static int rm_range_add(struct rule_range *rg, unsigned *n, uint32_t id, uint32_t f, uint32_t t)
{
	for (unsigned i = 0; i < *n; i++) {
		if (rg[i].rule != id || f >= rg[i].to || t <= rg[i].from)
			continue;
		if (f < rg[i].from)
			rg[i].from = f;
		if (t > rg[i].to)
			rg[i].to = t;
		/* the grown range may now overlap others of the rule: fold them in */
		for (unsigned j = 0; j < *n; j++) {
			if (j == i || rg[j].rule != id || rg[j].from >= rg[i].to || rg[j].to <= rg[i].from)
				continue;
			if (rg[j].from < rg[i].from)
				rg[i].from = rg[j].from;
			if (rg[j].to > rg[i].to)
				rg[i].to = rg[j].to;
			rg[j] = rg[--*n];
			if (i == *n)
				i = j;
			j = (unsigned)-1;        /* restart: the fold may have grown it again */
		}
		return 0;
	}
	if (*n == RULE_RANGES_MAX)
		return -1;
	rg[(*n)++] = (struct rule_range){ .from = f, .to = t, .rule = id };
	return 0;
}

/* Exact hit inside one field: validated on the original bytes (nothing is masked until
 * the scan is over, since Hyperscan may read back), then kept as a range, merged with
 * an overlapping range of the same rule (an e-mail pattern reports "a@b.c" and
 * "a@b.co"; one mask over the union keeps keep_last right). */
static int rm_on_som(unsigned int id, unsigned long long from, unsigned long long to,
		     unsigned int flags, void *ctx)
{
	struct rm_mask_ctx *c = ctx;
	struct rule_range *rg = c->s->ranges;
	const struct rule *r;
	uint32_t f, t;

	if (id >= c->rs->n_rules || from >= to || to > c->wlen)
		return 0;
	r = &c->rs->rules[id];
	if (!rule_applies(r, c->res))
		return 0;
	c->st->matches++;
	f = (uint32_t)from;
	t = (uint32_t)to;
	if (!rule_val_check(r->validator, c->win + f, t - f)) {
		c->st->rejected++;
		return 0;
	}
	f += c->base;
	t += c->base;
	if (rm_range_add(rg, &c->n_ranges, id, f, t) < 0) {
		c->overflow = 1;
		c->lost_from = f;
		return 1;                    /* stop; rm_field_db() masks and scans on from here */
	}
	return 0;
}

/* Scans field <fl> with <som> (start of match) and masks the ranges found. Returns 1
 * if something was masked, 0 if not, -1 on a scan error. */
static int rm_field_db(struct rm_mask_ctx *c, const hs_database_t *som, uint8_t *fl, uint32_t flen)
{
	uint32_t base = 0;
	int masked = 0;

	while (base < flen) {
		uint32_t next = flen;
		hs_error_t e;

		c->win = fl + base;
		c->wlen = flen - base;
		c->base = base;
		c->n_ranges = 0;
		c->overflow = 0;
		e = hs_scan(som, (const char *)c->win, c->wlen, 0, c->s->hs, rm_on_som, c);
		if (e != HS_SUCCESS && !(e == HS_SCAN_TERMINATED && c->overflow))
			return -1;
		for (unsigned i = 0; i < c->n_ranges; i++) {
			const struct rule_range *rg = &c->s->ranges[i];

			rule_mask_apply(&c->rs->rules[rg->rule].mask, fl + rg->from, rg->to - rg->from);
			masked = 1;
			if (c->overflow && rg->to > next)
				next = rg->to;
		}
		if (!c->overflow)
			break;
		/* more ranges than fit: go on from the one that did not fit (or past what
		 * was masked, should that not move forward) */
		next = c->lost_from > base ? c->lost_from : (next > base && next < flen ? next : base + 1);
		base = next;
	}
	return masked;
}

/* Masks the ranges of batch field c->xcur (in ranges[]) in the caller's buffer, unless
 * it is to be scanned again alone. */
static void rm_batch_apply(struct rm_mask_ctx *c)
{
	const struct rule_batch *bt = &c->s->bt;
	unsigned k = c->xcur;
	uint8_t *fl;

	if (k >= bt->n || bt->redo[k] || c->n_ranges == 0)
		return;
	fl = c->buf + c->fields[c->sl->jfield[bt->slot[k]]].off;
	for (unsigned i = 0; i < c->n_ranges; i++) {
		const struct rule_range *rg = &c->s->ranges[i];

		rule_mask_apply(&c->rs->rules[rg->rule].mask, fl + rg->from, rg->to - rg->from);
	}
	c->s->masked[bt->slot[k]] = 1;
}

/* Exact hit in a batch: the same as rm_on_som() for the field holding the match's last
 * byte, so that the batch masks what one scan per field would. A field's ranges are
 * masked as soon as matches move on to a later field (Hyperscan reports in order of end
 * offset; the scan reads the batch's copy, never the buffer being masked). Scanned
 * again alone, after this scan, is a field where a match begins in an earlier field
 * (leftmost start of match could hide a start inside the field: rare, patterns that
 * can match '\n'), where matches come out of order, or with more ranges than fit. A
 * match that ends on a separator belongs to no field. */
static int rm_on_batch(unsigned int id, unsigned long long from, unsigned long long to,
		       unsigned int flags, void *ctx)
{
	struct rm_mask_ctx *c = ctx;
	struct rule_batch *bt = &c->s->bt;
	const struct rule *r;
	uint32_t f, t;
	unsigned k;

	if (id >= c->rs->n_rules || from >= to)
		return 0;
	r = &c->rs->rules[id];
	if (!rule_applies(r, c->res))
		return 0;
	k = rm_join_field(bt->start, bt->n, &c->xlast, (uint32_t)(to - 1));
	if (to == bt->start[k + 1] || bt->redo[k])
		return 0;
	if (from < bt->start[k] || k < c->xcur) {
		bt->redo[k] = 1;
		return 0;
	}
	if (k != c->xcur) {
		rm_batch_apply(c);
		c->xcur = k;
		c->n_ranges = 0;
	}
	bt->matches[k]++;
	f = (uint32_t)from;
	t = (uint32_t)to;
	if (!rule_val_check(r->validator, bt->join + f, t - f)) {
		bt->rejected[k]++;
		return 0;
	}
	if (rm_range_add(c->s->ranges, &c->n_ranges, id, f - bt->start[k], t - bt->start[k]) < 0)
		bt->redo[k] = 1;             /* rm_field_db() knows how to go on */
	return 0;
}

/* The exact pass of field rule <ri> over the fields of the slice being scanned (c->sl)
 * that it hit (bit <bit> of hit[]), in one scan of their joined copy. Returns 0, or -1
 * on a scan error. */
static int rm_batch(struct rm_mask_ctx *c, uint32_t ri, uint64_t bit)
{
	struct rule_scratch *s = c->s;
	struct rule_batch *bt = &s->bt;
	const struct rule_slice *sl = c->sl;
	const hs_database_t *som = c->rs->rules[ri].som;
	uint32_t pos = 0;
	int rc;

	bt->n = 0;
	for (unsigned k = 0; k < sl->n; k++)
		if (s->hit[k] & bit)
			bt->slot[bt->n++] = (uint16_t)k;
	if (bt->n == 1) {
		/* one field (perhaps one larger than the join buffer): scanned in place, as
		 * rm_field_db() does it, without a copy */
		const struct rule_field *f = &c->fields[sl->jfield[bt->slot[0]]];

		if ((rc = rm_field_db(c, som, c->buf + f->off, f->len)) < 0)
			return -1;
		s->masked[bt->slot[0]] |= (uint8_t)rc;
		return 0;
	}
	for (unsigned k = 0; k < bt->n; k++) {
		const struct rule_field *f = &c->fields[sl->jfield[bt->slot[k]]];

		bt->start[k] = pos;
		bt->matches[k] = bt->rejected[k] = 0;
		bt->redo[k] = 0;
		/* the slice's join held these fields, so their copy fits too */
		rm_copy(bt->join + pos, c->buf + f->off, f->len);
		pos += f->len;
		bt->join[pos++] = '\n';
	}
	bt->start[bt->n] = pos;
	c->xcur = 0;
	c->xlast = 0;
	c->n_ranges = 0;
	if (hs_scan(som, (const char *)bt->join, pos, 0, s->hs, rm_on_batch, c) != HS_SUCCESS)
		return -1;
	rm_batch_apply(c);
	for (unsigned k = 0; k < bt->n; k++) {
		const struct rule_field *f = &c->fields[sl->jfield[bt->slot[k]]];

		if (!bt->redo[k]) {
			c->st->matches += bt->matches[k];
			c->st->rejected += bt->rejected[k];
			continue;
		}
		/* back to the bytes this pass started from, then alone, as without batches */
		memcpy(c->buf + f->off, bt->join + bt->start[k], f->len);
		if ((rc = rm_field_db(c, som, c->buf + f->off, f->len)) < 0)
			return -1;
		s->masked[bt->slot[k]] |= (uint8_t)rc;
	}
	return 0;
}

/* The exact pass over slice <sl> after its prefilter scan: rule by rule (in fbit order,
 * each seeing what the previous ones masked, as a field-by-field pass would), over the
 * fields each one hit. A field with the "any later rule" bit is scanned alone with the
 * database of all field rules; a rule that cannot be batched (rule.batch) scans its
 * fields one by one. */
static int rm_exact(struct rm_mask_ctx *c, uint8_t proto)
{
	struct rule_scratch *s = c->s;
	const struct rule_slice *sl = c->sl;
	const struct rule_set *rs = c->rs;
	uint64_t any = 0;
	int rc;

	for (unsigned k = 0; k < sl->n; k++) {
		s->masked[k] = 0;
		if (s->hit[k] >> (RULE_FIELD_BITS - 1)) {
			const struct rule_field *f = &c->fields[sl->jfield[k]];

			if ((rc = rm_field_db(c, rs->db[proto][RULE_DB_FIELD_SOM], c->buf + f->off, f->len)) < 0)
				return -1;
			s->masked[k] = (uint8_t)rc;
			s->hit[k] = 0;
		}
		any |= s->hit[k];
	}
	while (any != 0) {
		unsigned b = (unsigned)__builtin_ctzll(any);
		uint32_t ri = rs->field_rules[b];

		any &= any - 1;
		if (rs->rules[ri].batch) {
			if (rm_batch(c, ri, 1ull << b) < 0)
				return -1;
			continue;
		}
		for (unsigned k = 0; k < sl->n; k++) {
			const struct rule_field *f = &c->fields[sl->jfield[k]];

			if (!(s->hit[k] >> b & 1))
				continue;
			if ((rc = rm_field_db(c, rs->rules[ri].som, c->buf + f->off, f->len)) < 0)
				return -1;
			s->masked[k] |= (uint8_t)rc;
		}
	}
	for (unsigned k = 0; k < sl->n; k++)
		c->st->fields_masked += s->masked[k];
	return 0;
}

/* Scans slice <sl> with prefilter <pre> over <data> (its join buffer, or one large
 * field in place) and masks the fields that had a hit. */
static int rm_slice(struct rm_mask_ctx *c, uint8_t proto, const hs_database_t *pre,
		    const struct rule_slice *sl, const uint8_t *data, uint32_t dlen)
{
	struct rule_scratch *s = c->s;
	uint64_t any = 0;

	memset(s->hit, 0, sl->n * sizeof(uint64_t));
	c->sl = sl;
	c->last = 0;
	if (hs_scan(pre, (const char *)data, dlen, 0, s->hs, rm_on_pre, c) != HS_SUCCESS)
		return -1;
	for (unsigned k = 0; k < sl->n; k++)
		any |= s->hit[k];
	return any != 0 ? rm_exact(c, proto) : 0;
}

/* Scans what slice <sl> holds with <pre>, then empties it. */
static int rm_flush(struct rm_mask_ctx *c, uint8_t proto, const hs_database_t *pre,
		    struct rule_slice *sl)
{
	int rc = 0;

	if (sl->n > 0) {
		sl->jstart[sl->n] = sl->jpos;
		rc = rm_slice(c, proto, pre, sl, sl->join, sl->jpos);
	}
	sl->n = 0;
	sl->jpos = 0;
	return rc;
}

#define RM_ONES   0x0101010101010101ull
#define RM_HIGHS  0x8080808080808080ull

/* How many of the 8 bytes of <x> are ASCII and in [<lo>, <hi>] (1 <= lo <= hi < 0x80):
 * SWAR, no branch. Each byte's low 7 bits plus a bias cannot carry into the next byte;
 * the bias sets the byte's high bit when the low bits are >= lo (resp. > hi). */
static inline unsigned rm_swar_in(uint64_t x, unsigned lo, unsigned hi)
{
	uint64_t low7 = x & ~RM_HIGHS;
	uint64_t ge = low7 + RM_ONES * (0x80 - lo);
	uint64_t gt = low7 + RM_ONES * (0x7f - hi);

	return (unsigned)__builtin_popcountll(ge & ~gt & ~x & RM_HIGHS);
}

/* The class of the <len> bytes at <p> for protocol <proto>: their digits and upper-case
 * letters counted eight bytes at a time (fields are short: a per-byte loop, even
 * vectorised, costs more in its set-up and tail than this), stopping once both counts
 * reach their top level, then mapped to levels (struct rule_set.cell). */
static unsigned rm_class(const struct rule_set *rs, uint8_t proto, const uint8_t *p, uint32_t len)
{
	unsigned nl = rs->n_lev[proto], nu = rs->n_ulev[proto];
	unsigned dtop = rs->thr[proto][nl - 1], utop = rs->uthr[proto][nu - 1];
	uint32_t d = 0, u = 0;
	uint64_t x;

	if (nl == 1 && nu == 1)
		return rs->cell[proto][0][0];
	for (; len >= 8 && (d < dtop || u < utop); p += 8, len -= 8) {
		memcpy(&x, p, 8);
		d += rm_swar_in(x, '0', '9');
		u += rm_swar_in(x, 'A', 'Z');
	}
	if (len < 8) {
		/* the tail, packed into one word (the order of bytes does not matter; NULs
		 * count as neither) */
		x = 0;
		for (uint32_t i = 0; i < len; i++)
			x |= (uint64_t)p[i] << (8 * i);
		d += rm_swar_in(x, '0', '9');
		u += rm_swar_in(x, 'A', 'Z');
	}
	/* tables, not loops: a branch on the counts would be mispredicted field by field */
	d = d < RULE_DIGITS_MAX ? d : RULE_DIGITS_MAX;
	u = u < RULE_UPPER_MAX ? u : RULE_UPPER_MAX;
	return rs->cell[proto][rs->dlev[proto][d]][rs->ulev[proto][u]];
}

int rule_mask_fields(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
		     uint16_t res, uint8_t *buf, uint32_t len, const struct rule_field *fields,
		     unsigned n_fields, struct rule_mask_stats *st)
{
	struct rule_mask_stats dummy;
	struct rm_mask_ctx c = { .rs = rs, .s = s, .res = res, .buf = buf, .fields = fields };
	unsigned n_cls;

	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	c.st = st;
	if (rs == NULL || buf == NULL || fields == NULL || proto >= DP_PROTO__MAX)
		return 0;
	/* column masks first: a field masked whole needs no scan */
	for (unsigned k = 0; k < n_fields; k++) {
		const struct rule_field *f = &fields[k];

		if (f->col != NULL && rm_field_ok(f, len) && f->len > 0) {
			rule_mask_apply(f->col, buf + f->off, f->len);
			st->fields_masked++;
		}
	}
	if (rs->db[proto][RULE_DB_FIELD] == NULL ||
	    !(rs->field_all[proto] || rm_res_bit(rs->field_res[proto], res)))
		return 0;
	if (s == NULL || s->hs == NULL)
		return -1;
	n_cls = rs->n_cls[proto];
	if (n_cls > s->n_sl)
		return -1;                   /* scratch not grown for this set */
	for (unsigned k = 0; k < n_cls; k++)
		s->sl[k].n = s->sl[k].jpos = 0;
	for (unsigned i = 0; i < n_fields; i++) {
		const struct rule_field *f = &fields[i];
		const hs_database_t *pre;
		struct rule_slice *sl;
		unsigned k;

		if (!rm_field_ok(f, len) || f->col != NULL || f->len == 0)
			continue;
		if ((k = rm_class(rs, proto, buf + f->off, f->len)) == RULE_CLASS_NONE)
			continue;            /* no rule can match a field with so few digits or capitals */
		pre = rs->cls[proto][k];
		sl = &s->sl[k];
		if (f->len >= RULE_JOIN_CAP) {
			/* larger than the join buffer: scanned alone, in place, as a slice
			 * of one (no separator: jstart[1] lies past its end) */
			if (rm_flush(&c, proto, pre, sl) < 0)
				return -1;
			sl->n = 1;
			sl->jstart[0] = 0;
			sl->jstart[1] = f->len + 1;
			sl->jfield[0] = i;
			if (rm_slice(&c, proto, pre, sl, buf + f->off, f->len) < 0)
				return -1;
			sl->n = 0;
			continue;
		}
		if ((sl->n == RULE_SLICE_MAX || sl->jpos + f->len + 1 > RULE_JOIN_CAP) &&
		    rm_flush(&c, proto, pre, sl) < 0)
			return -1;
		/* each field copied into the join buffer and followed by '\n' */
		rm_copy(sl->join + sl->jpos, buf + f->off, f->len);
		sl->jstart[sl->n] = sl->jpos;
		sl->jfield[sl->n++] = i;
		sl->jpos += f->len;
		sl->join[sl->jpos++] = '\n';
	}
	for (unsigned k = 0; k < n_cls; k++)
		if (rm_flush(&c, proto, rs->cls[proto][k], &s->sl[k]) < 0)
			return -1;
	return 0;
}
