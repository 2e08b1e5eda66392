/* test_linedec.c - the scriptable line decoder of tests and fuzz targets (see test_linedec.h). */
#include <stddef.h>
#include <string.h>
#include "tests/common/test_linedec.h"
#include "dataplane/dp_config-t.h"
#include "dataplane/flow.h"
#include "dataplane/proto/proto.h"

struct tdec_log tdec_log;

/* ---- the decoder ---- */

struct tdec_dir {
	uint64_t next_off;            /* offset the next feed should start at */
	uint64_t line_off;            /* stream offset of the current line */
	uint16_t n;                   /* bytes of the current line kept (<= TDEC_LINE_MAX) */
	uint8_t  over;                /* the current line is longer than TDEC_LINE_MAX */
	char     line[TDEC_LINE_MAX]; /* the current line, without its '\n' */
};

struct tdec_state {
	struct tdec_dir d[2];
};

_Static_assert(sizeof(struct tdec_state) <= FLOW_DEC_STATE_SIZE, "tdec_state fits in a flow");

static void tdec_init(void *st)
{
	memset(st, 0, sizeof(struct tdec_state));
	tdec_log.inits++;
}

static int line_is(const struct tdec_dir *d, const char *word)
{
	size_t n = strlen(word);

	return !d->over && d->n == n && memcmp(d->line, word, n) == 0;
}

static int line_has(const struct tdec_dir *d, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i + n <= d->n; i++)
		if (memcmp(d->line + i, word, n) == 0)
			return 1;
	return 0;
}

/* A refused edit: counted, and the flow is reset - a decoder that cannot remove or
 * answer a message must never let it through. Returns <rc>. */
static int chk(struct proto_sink *sink, int rc)
{
	if (rc < 0) {
		tdec_log.sink_fail++;
		sink->reset(sink->ctx);
	}
	return rc;
}

/* Acts on the whole line of <d> (direction <dir>) that ends at stream offset <end>. */
static int tdec_line(struct tdec_dir *d, int dir, uint64_t end, struct proto_sink *sink)
{
	if (line_is(d, "BAD"))
		return -1;
	if (line_is(d, "RESET")) {
		sink->reset(sink->ctx);
		return 0;
	}
	if (line_is(d, "BLOCK")) {
		if (chk(sink, sink->remove(sink->ctx, dir, d->line_off, end)) < 0 ||
		    chk(sink, sink->inject(sink->ctx, dir ^ 1, (const uint8_t *)"ERR\n", 4)) < 0)
			return 0;
		sink->release(sink->ctx, dir, end);
		return 0;
	}
	if (line_is(d, "DROP")) {
		if (chk(sink, sink->remove(sink->ctx, dir, d->line_off, end)) < 0)
			return 0;
		sink->release(sink->ctx, dir, end);
		return 0;
	}
	if (line_is(d, "PING")) {
		sink->release(sink->ctx, dir, end);
		chk(sink, sink->inject(sink->ctx, dir ^ 1, (const uint8_t *)"PONG\n", 5));
		return 0;
	}
	if (!d->over && line_has(d, "SECRET")) {
		uint8_t x[TDEC_LINE_MAX];
		memset(x, 'X', d->n);
		if (chk(sink, sink->rewrite(sink->ctx, dir, d->line_off, x, d->n)) < 0)
			return 0;
	}
	sink->release(sink->ctx, dir, end);
	return 0;
}

static int tdec_feed(void *st, int dir, uint64_t off, const uint8_t *data, uint32_t len,
		     struct proto_sink *sink)
{
	struct tdec_state *s = st;
	struct tdec_dir *d = &s->d[dir & 1];

	if (off != d->next_off)
		tdec_log.gaps++;
	for (uint32_t i = 0; i < len && tdec_log.n[dir & 1] < TDEC_LOG_MAX; i++)
		tdec_log.seen[dir & 1][tdec_log.n[dir & 1]++] = data[i];
	d->next_off = off + len;
	for (uint32_t i = 0; i < len; i++) {
		uint64_t end = off + i + 1;
		if (data[i] != '\n') {
			if (d->n < TDEC_LINE_MAX)
				d->line[d->n++] = (char)data[i];
			else
				d->over = 1;
			continue;
		}
		tdec_log.lines[dir & 1]++;
		if (tdec_line(d, dir & 1, end, sink) < 0)
			return PROTO_ERR;
		d->line_off = end;
		d->n = 0;
		d->over = 0;
	}
	return (int)len;
}

static void tdec_fin(void *st, int dir, uint64_t off, struct proto_sink *sink)
{
	(void)st;
	tdec_log.fins[dir & 1]++;
	sink->release(sink->ctx, dir, off);
}

/* Counted, so that tests can check each init() is paired with a fini(). */
static void tdec_fini(void *st)
{
	(void)st;
	tdec_log.finis++;
}

static const struct proto_ops tdec_ops = {
	.name = "test",
	.state_size = sizeof(struct tdec_state),
	.init = tdec_init,
	.feed = tdec_feed,
	.fin = tdec_fin,
	.fini = tdec_fini,
};

void tdec_register(void)
{
	proto_register(DP_PROTO_TEST, &tdec_ops);
}

void tdec_log_reset(void)
{
	memset(&tdec_log, 0, sizeof(tdec_log));
}

