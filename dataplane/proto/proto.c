/* proto.c - the decoder registry: protocol id -> operations.
 *
 * Written once at start-up (proto_register_builtin, or a test registering its own
 * decoder) and only read afterwards, by every worker.
 */
#include <stddef.h>
#include "dataplane/proto/proto.h"

static const struct proto_ops *registry[DP_PROTO__MAX];

void proto_register(int id, const struct proto_ops *ops)
{
	if (id > 0 && id < DP_PROTO__MAX)
		registry[id] = ops;
}

const struct proto_ops *proto_get(int id)
{
	return (id > 0 && id < DP_PROTO__MAX) ? registry[id] : NULL;
}

#include "dataplane/proto/pg.h"

void proto_register_builtin(void)
{
	proto_register(DP_PROTO_PG, &pg_proto_ops);
}
