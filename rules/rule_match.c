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

void rule_mask_apply(const struct rule_mask *m, uint8_t *p, uint32_t len)
{
	uint32_t total = 0, idx = 0, cl;
	uint8_t ch;
	bool keep;

	if (m == NULL || p == NULL)
		return;
	ch = m->ch != 0 ? m->ch : '*';
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

/* The slice field holding offset <pos> of the slice (binary search over jstart[]). */
static unsigned rm_slice_field(struct rm_mask_ctx *c, uint32_t pos)
{
	const uint32_t *js = c->sl->jstart;
	unsigned lo = 0, hi = c->sl->n;

	if (c->last < c->sl->n && js[c->last] <= pos && pos < js[c->last + 1])
		return c->last;
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (js[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	c->last = lo;
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
	k = rm_slice_field(c, pos);
	if (pos + 1 == c->sl->jstart[k + 1])
		return 0;                /* the '\n' after field k */
	c->s->hit[k] |= 1ull << r->fbit;
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
	for (unsigned i = 0; i < c->n_ranges; i++) {
		if (rg[i].rule != id || f >= rg[i].to || t <= rg[i].from)
			continue;
		if (f < rg[i].from)
			rg[i].from = f;
		if (t > rg[i].to)
			rg[i].to = t;
		/* the grown range may now overlap others of the rule: fold them in */
		for (unsigned j = 0; j < c->n_ranges; j++) {
			if (j == i || rg[j].rule != id || rg[j].from >= rg[i].to || rg[j].to <= rg[i].from)
				continue;
			if (rg[j].from < rg[i].from)
				rg[i].from = rg[j].from;
			if (rg[j].to > rg[i].to)
				rg[i].to = rg[j].to;
			rg[j] = rg[--c->n_ranges];
			if (i == c->n_ranges)
				i = j;
			j = (unsigned)-1;        /* restart: the fold may have grown it again */
		}
		return 0;
	}
	if (c->n_ranges == RULE_RANGES_MAX) {
		c->overflow = 1;
		c->lost_from = f;
		return 1;                    /* stop; rm_field() masks and scans on from here */
	}
	rg[c->n_ranges++] = (struct rule_range){ .from = f, .to = t, .rule = id };
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

/* Finds and masks the exact ranges in field <fl>, which the prefilter found hits of
 * the rules of <bits> in: each rule's own start-of-match database over the field alone
 * (cheaper per call than one database of every rule), or, when the "any later rule"
 * bit is set, the database of all field rules. */
static int rm_field(struct rm_mask_ctx *c, uint8_t proto, uint64_t bits, uint8_t *fl, uint32_t flen)
{
	int masked = 0, rc;

	if (bits >> (RULE_FIELD_BITS - 1)) {
		if ((rc = rm_field_db(c, c->rs->db[proto][RULE_DB_FIELD_SOM], fl, flen)) < 0)
			return -1;
		masked = rc;
	} else {
		while (bits != 0) {
			unsigned b = (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			if ((rc = rm_field_db(c, c->rs->rules[c->rs->field_rules[b]].som, fl, flen)) < 0)
				return -1;
			masked |= rc;
		}
	}
	c->st->fields_masked += (uint32_t)masked;
	return 0;
}

/* Scans slice <sl> with prefilter <pre> over <data> (its join buffer, or one large
 * field in place) and masks the fields that had a hit. */
static int rm_slice(struct rm_mask_ctx *c, uint8_t proto, const hs_database_t *pre,
		    const struct rule_slice *sl, const uint8_t *data, uint32_t dlen, uint8_t *buf,
		    const struct rule_field *fields)
{
	struct rule_scratch *s = c->s;

	memset(s->hit, 0, sl->n * sizeof(uint64_t));
	c->sl = sl;
	c->last = 0;
	if (hs_scan(pre, (const char *)data, dlen, 0, s->hs, rm_on_pre, c) != HS_SUCCESS)
		return -1;
	for (unsigned k = 0; k < sl->n; k++) {
		const struct rule_field *f = &fields[sl->jfield[k]];

		if (s->hit[k] != 0 && rm_field(c, proto, s->hit[k], buf + f->off, f->len) < 0)
			return -1;
	}
	return 0;
}

/* Scans what slice <sl> holds with <pre>, then empties it. */
static int rm_flush(struct rm_mask_ctx *c, uint8_t proto, const hs_database_t *pre,
		    struct rule_slice *sl, uint8_t *buf, const struct rule_field *fields)
{
	int rc = 0;

	if (sl->n > 0) {
		sl->jstart[sl->n] = sl->jpos;
		rc = rm_slice(c, proto, pre, sl, sl->join, sl->jpos, buf, fields);
	}
	sl->n = 0;
	sl->jpos = 0;
	return rc;
}

/* The digit level of the <len> bytes at <p>: the highest level whose threshold their
 * digit count reaches (counting stops at the top threshold). */
static unsigned rm_level(const uint8_t *p, uint32_t len, const uint16_t *thr, unsigned n_lev)
{
	unsigned d = 0, top = thr[n_lev - 1], lv = 0;

	for (uint32_t i = 0; i < len && d < top; i++)
		d += (unsigned)(uint8_t)(p[i] - '0') < 10;
	while (lv + 1 < n_lev && thr[lv + 1] <= d)
		lv++;
	return lv;
}

int rule_mask_fields(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
		     uint16_t res, uint8_t *buf, uint32_t len, const struct rule_field *fields,
		     unsigned n_fields, struct rule_mask_stats *st)
{
	struct rule_mask_stats dummy;
	struct rm_mask_ctx c = { .rs = rs, .s = s, .res = res };
	unsigned n_lev;

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
	n_lev = rs->n_lev[proto];
	for (unsigned lv = 0; lv < n_lev; lv++)
		s->sl[lv].n = s->sl[lv].jpos = 0;
	for (unsigned i = 0; i < n_fields; i++) {
		const struct rule_field *f = &fields[i];
		const hs_database_t *pre;
		struct rule_slice *sl;
		unsigned lv;

		if (!rm_field_ok(f, len) || f->col != NULL || f->len == 0)
			continue;
		lv = n_lev > 1 ? rm_level(buf + f->off, f->len, rs->thr[proto], n_lev) : 0;
		if ((pre = rs->lev[proto][lv]) == NULL)
			continue;            /* no rule can match a field with so few digits */
		sl = &s->sl[lv];
		if (f->len >= RULE_JOIN_CAP) {
			/* larger than the join buffer: scanned alone, in place, as a slice
			 * of one (no separator: jstart[1] lies past its end) */
			if (rm_flush(&c, proto, pre, sl, buf, fields) < 0)
				return -1;
			sl->n = 1;
			sl->jstart[0] = 0;
			sl->jstart[1] = f->len + 1;
			sl->jfield[0] = i;
			if (rm_slice(&c, proto, pre, sl, buf + f->off, f->len, buf, fields) < 0)
				return -1;
			sl->n = 0;
			continue;
		}
		if ((sl->n == RULE_SLICE_MAX || sl->jpos + f->len + 1 > RULE_JOIN_CAP) &&
		    rm_flush(&c, proto, pre, sl, buf, fields) < 0)
			return -1;
		/* each field copied into the join buffer and followed by '\n' */
		memcpy(sl->join + sl->jpos, buf + f->off, f->len);
		sl->jstart[sl->n] = sl->jpos;
		sl->jfield[sl->n++] = i;
		sl->jpos += f->len;
		sl->join[sl->jpos++] = '\n';
	}
	for (unsigned lv = 0; lv < n_lev; lv++)
		if (rm_flush(&c, proto, rs->lev[proto][lv], &s->sl[lv], buf, fields) < 0)
			return -1;
	return 0;
}
