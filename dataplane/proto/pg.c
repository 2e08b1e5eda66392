/* pg.c - PostgreSQL protocol v3 decoder: message framing in both directions (pg.h). */
#include <string.h>
#include "dataplane/proto/pg.h"
#include "dataplane/flow-t.h"

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pg_init(void *st)
{
	struct pg_state *s = st;

	memset(s, 0, sizeof(*s));
	s->dir[PROTO_DIR_C2S].untyped = 1;
}

/* A whole message of <fr> ended at stream offset <end>. */
static void msg_done(struct pg_state *s, int dir, uint64_t end, struct proto_sink *sink)
{
	struct pg_framer *fr = &s->dir[dir];

	fr->msgs++;
	if (fr->untyped) {
		uint32_t code = be32(fr->hdr + 4);
		if (code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST)
			s->dir[PROTO_DIR_S2C].one_byte = 1;
		else if ((code >> 16) == 3)
			fr->untyped = 0;
	}
	fr->hdr_len = 0;
	fr->msg_start = end;
	sink->release(sink->ctx, dir, end);
}

static int pg_feed(void *st, int dir, uint64_t off, const uint8_t *data, uint32_t len,
		   struct proto_sink *sink)
{
	struct pg_state *s = st;
	struct pg_framer *fr = &s->dir[dir & 1];
	uint32_t i = 0;

	if (s->encrypted) {
		sink->release(sink->ctx, dir, off + len);
		return (int)len;
	}
	while (i < len) {
		if (fr->remain) {
			uint32_t take = len - i < fr->remain ? len - i : fr->remain;
			i += take;
			fr->remain -= take;
			if (fr->remain == 0)
				msg_done(s, dir, off + i, sink);
			continue;
		}
		if (dir == PROTO_DIR_S2C && fr->one_byte) {
			uint8_t answer = data[i++];
			fr->one_byte = 0;
			fr->msgs++;
			sink->release(sink->ctx, dir, off + i);
			if (answer == 'S' || answer == 'G') {
				/* the rest of the flow is TLS / GSS: nothing more to decode */
				s->encrypted = 1;
				sink->release(sink->ctx, dir, off + len);
				return (int)len;
			}
			continue;
		}
		uint8_t hlen = fr->untyped ? 8 : 5;
		while (fr->hdr_len < hlen && i < len)
			fr->hdr[fr->hdr_len++] = data[i++];
		if (fr->hdr_len < hlen)
			break;
		uint32_t mlen;
		if (fr->untyped) {
			mlen = be32(fr->hdr);
			/* startup packets are small; PostgreSQL itself refuses > 10000 bytes */
			if (mlen < 8 || mlen > 10000)
				return PROTO_ERR;
			fr->last_type = 0;
			fr->remain = mlen - 8;
		} else {
			mlen = be32(fr->hdr + 1);
			if (mlen < 4 || mlen > PG_MAX_MSG)
				return PROTO_ERR;
			fr->last_type = fr->hdr[0];
			fr->remain = mlen - 4;
		}
		if (fr->remain == 0)
			msg_done(s, dir, off + i, sink);
	}
	return (int)len;
}

static void pg_fin(void *st, int dir, uint64_t off, struct proto_sink *sink)
{
	(void)st;
	sink->release(sink->ctx, dir, off);
}

const struct proto_ops pg_proto_ops = {
	.name = "pg",
	.state_size = sizeof(struct pg_state),
	.init = pg_init,
	.feed = pg_feed,
	.fin = pg_fin,
	.fini = NULL,
};

_Static_assert(sizeof(struct pg_state) <= FLOW_DEC_STATE_SIZE, "pg_state fits in a flow");
