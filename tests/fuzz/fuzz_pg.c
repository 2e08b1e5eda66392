/* fuzz_pg.c - libFuzzer target: the PostgreSQL decoder/enforcer on any bytes, in both
 * directions and any split, against a fake stream editor that checks every promise of
 * proto.h (offsets at or after the last release, never past what was fed) and a fake
 * policy that blocks, resets and masks, so that every enforcement path runs.
 *
 * Input: records of [control byte][length byte][bytes]: bit 0 of the control byte is
 * the direction, bits 1-2 pick the policy (block on DROP, reset on RESET, masks on). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dataplane/proto/pg.h"
#include "dataplane/dp_counters.h"
#include "dataplane/flow-t.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define STREAM_MAX (1u << 16)

struct fake_dir {
	uint8_t bytes[STREAM_MAX];    /* everything fed so far */
	uint64_t fed;                 /* stream offset fed up to */
	uint64_t released;            /* last release */
};

struct fake {
	struct fake_dir d[2];
	int resets;
};

static void f_release(void *ctx, int dir, uint64_t upto)
{
	struct fake *f = ctx;

	CHECK(upto <= f->d[dir & 1].fed);
	if (upto > f->d[dir & 1].released)
		f->d[dir & 1].released = upto;
}

static int f_remove(void *ctx, int dir, uint64_t from, uint64_t to)
{
	struct fake *f = ctx;

	CHECK(from < to && to <= f->d[dir & 1].fed);
	return from >= f->d[dir & 1].released ? 0 : -1;
}

static int f_rewrite(void *ctx, int dir, uint64_t at, const uint8_t *bytes, uint32_t len)
{
	struct fake *f = ctx;
	struct fake_dir *d = &f->d[dir & 1];

	CHECK(at + len <= d->fed);
	if (at < d->released)
		return -1;
	if (at + len <= STREAM_MAX)
		memcpy(d->bytes + at, bytes, len);
	return 0;
}

static int f_inject(void *ctx, int dir, const uint8_t *bytes, uint32_t len)
{
	(void)ctx; (void)dir;
	CHECK(len > 0 && bytes != NULL);
	return 0;
}

static int f_peek(void *ctx, int dir, uint64_t from, uint8_t *buf, uint32_t len)
{
	struct fake *f = ctx;
	struct fake_dir *d = &f->d[dir & 1];

	if (from < d->released || from + len > d->fed || from + len > STREAM_MAX)
		return -1;
	memcpy(buf, d->bytes + from, len);
	return 0;
}

/* Events: every text NUL-terminated inside its field, a known type. */
static void f_event(void *ctx, struct tg_event *ev)
{
	(void)ctx;
	CHECK(ev->type >= EV_SESSION_OPEN && ev->type <= EV_ROWS);
	if (ev->type == EV_ROWS)
		CHECK(memchr(ev->u.rows.text, 0, sizeof(ev->u.rows.text)) != NULL);
	if (ev->type == EV_COMMAND)
		CHECK(memchr(ev->u.cmd.text, 0, sizeof(ev->u.cmd.text)) != NULL);
	if (ev->type == EV_AUTH)
		CHECK(memchr(ev->u.auth.user, 0, sizeof(ev->u.auth.user)) != NULL);
	if (ev->type == EV_ERROR)
		CHECK(memchr(ev->u.error.text, 0, sizeof(ev->u.error.text)) != NULL);
}

static void f_reset(void *ctx)
{
	((struct fake *)ctx)->resets++;
}

/* ---- a fake policy ---- */

static int p_check(void *rules, void *scratch, uint8_t proto, uint16_t res, const char *norm,
		   uint32_t nlen, const char *fp, uint32_t fplen, const char *raw, uint32_t rawlen,
		   struct rule_verdict *v)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)fp; (void)fplen;
	CHECK(nlen == 0 || norm != NULL);
	CHECK(rawlen == 0 || raw != NULL);
	memset(v, 0, sizeof(*v));
	v->rule = -1;
	if (nlen >= 4 && memmem(norm, nlen, "DROP", 4)) {
		v->action = RULE_BLOCK;
		v->id = "fuzz.drop";
		v->message = "no";
	} else if (nlen >= 5 && memmem(norm, nlen, "RESET", 5)) {
		v->action = RULE_RESET;
		v->id = "fuzz.reset";
	}
	return 0;
}

static const struct rule_mask fuzz_mask = { .keep_last = 2, .ch = '*', .preserve_class = 1 };

static const struct rule_mask *p_column(void *rules, uint8_t proto, uint16_t res, const char *name,
					uint32_t len, int32_t *rule)
{
	(void)rules; (void)proto; (void)res;
	if (rule)
		*rule = 0;
	return len == 3 && memcmp(name, "ssn", 3) == 0 ? &fuzz_mask : NULL;
}

static int p_has(void *rules, uint8_t proto, uint16_t res)
{
	(void)rules; (void)proto; (void)res;
	return 1;
}

static int p_mask(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
		  uint32_t len, const struct rule_field *fields, unsigned n, struct rule_mask_stats *st)
{
	(void)rules; (void)scratch; (void)proto; (void)res;
	for (unsigned i = 0; i < n; i++) {
		CHECK((uint64_t)fields[i].off + fields[i].len <= len);
		if (i)
			CHECK(fields[i].off >= fields[i - 1].off + fields[i - 1].len);
		for (uint32_t k = 0; k < fields[i].len; k++)
			if (buf[fields[i].off + k] >= '0' && buf[fields[i].off + k] <= '9')
				buf[fields[i].off + k] = '#';
	}
	if (st)
		st->fields_masked = n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	static uint8_t buf[1 << 16], aux[3 << 16];
	static struct dp_counters cnt;
	static struct dp_config cfg;
	cfg.record_rows = 1024;
	struct proto_policy pol = { 0 };
	struct proto_env env = {
		.pol = &pol, .buf = buf, .buf_cap = sizeof(buf), .aux = aux,
		.aux_cap = sizeof(aux), .cnt = &cnt, .cfg = &cfg,
	};
	struct proto_sink sink = {
		.ctx = &f, .env = &env, .peek = f_peek, .release = f_release,
		.remove = f_remove, .rewrite = f_rewrite, .inject = f_inject, .reset = f_reset,
		.event = f_event,
	};
	uint64_t st_mem[FLOW_DEC_STATE_SIZE / 8];
	size_t i = 0;

	memset(&f, 0, sizeof(f));
	cfg.tls = size && (data[0] & 8) ? DP_TLS_PASSTHROUGH : DP_TLS_REFUSE;
	/* statements over the hold limit go by dataplane.unjudged: each policy in turn */
	cfg.max_hold_bytes = size && (data[0] & 16) ? 64 : 4096;
	cfg.unjudged = size ? (uint8_t)((data[0] >> 5) % 3) : DP_UNJUDGED_BLOCK;
	pg_proto_ops.init(st_mem);
	while (i + 2 <= size) {
		uint8_t ctl = data[i], len = data[i + 1];
		int dir = ctl & 1;
		struct fake_dir *d = &f.d[dir];
		i += 2;
		if (len > size - i)
			len = (uint8_t)(size - i);
		if (ctl & 2) {
			pol.check_command = p_check;
			pol.column_mask = p_column;
		}
		if (ctl & 4) {
			pol.has_result_rules = p_has;
			pol.mask_fields = p_mask;
		}
		if (d->fed + len > STREAM_MAX)
			break;
		memcpy(d->bytes + d->fed, data + i, len);
		uint64_t off = d->fed;
		d->fed += len;
		int rc = pg_proto_ops.feed(st_mem, dir, off, d->bytes + off, len, &sink);
		CHECK(rc == PROTO_ERR || rc == len);
		i += len;
		if (rc == PROTO_ERR)
			break;
	}
	for (int dir = 0; dir < 2; dir++)
		pg_proto_ops.fin(st_mem, dir, f.d[dir].fed, &sink);
	return 0;
}
