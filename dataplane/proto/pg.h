/* pg.h - PostgreSQL protocol v3 decoder.
 *
 * This stage frames messages in both directions so that the stream editor forwards
 * whole messages (DESIGN.md §2.1): StartupMessage / SSLRequest / GSSENCRequest /
 * CancelRequest (untyped, length first), the one-byte answer to SSLRequest and
 * GSSENCRequest, then typed messages (type byte, int32 length including itself).
 * An accepted SSL or GSS encryption request ends inspection of the flow (the bytes
 * that follow are TLS), and is counted.
 */
#ifndef TG_PG_H
#define TG_PG_H

#include <stdint.h>
#include "dataplane/proto/proto.h"

#define PG_PROTO_V3        196608u     /* StartupMessage protocol 3.0 */
#define PG_SSL_REQUEST     80877103u
#define PG_GSSENC_REQUEST  80877104u
#define PG_CANCEL_REQUEST  80877102u
#define PG_MAX_MSG         (1u << 30)  /* PostgreSQL's own limit on a message */

/* Framing state of one direction. */
struct pg_framer {
	uint8_t  hdr[8];              /* header bytes collected so far */
	uint8_t  hdr_len;             /* bytes in hdr */
	uint8_t  untyped;             /* next message has no type byte (startup phase) */
	uint8_t  one_byte;            /* next message is a one-byte SSL/GSS answer */
	uint8_t  pad;
	uint32_t remain;              /* body bytes of the current message still to come */
	uint64_t msg_start;           /* stream offset of the current message */
	uint64_t msgs;                /* complete messages seen */
	uint8_t  last_type;           /* type byte of the last message (0 for untyped) */
};

struct pg_state {
	struct pg_framer dir[2];      /* 0: client to server, 1: server to client */
	uint8_t encrypted;            /* SSL/GSS accepted: nothing more to decode */
	uint8_t pending_req;          /* client sent SSLRequest/GSSENCRequest, answer due */
};

extern const struct proto_ops pg_proto_ops;

#endif
