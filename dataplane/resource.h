/* resource.h - finding the protected resource of a packet in constant time.
 *
 * Every TCP frame the appliance sees is matched against the configured resources (a
 * client-facing port by destination address and port, a server-facing one by source),
 * and every fragment by address alone. A fleet has hundreds of databases: a linear scan
 * would cost each frame - protected or merely bridged - a compare per resource (256
 * resources: ~1,500 instructions a frame, more than the whole tracked path). So each
 * worker builds, at start, two read-only open-addressing tables from the configuration:
 * (IP version, address, port) -> resource index, and (IP version, address) -> known.
 * A lookup is one CRC32 hash and, at the table's load of at most 1/2, about one probe.
 * When two resources have the same address and port, the first listed wins, as in the
 * configuration's order.
 */
#ifndef TG_DP_RESOURCE_H
#define TG_DP_RESOURCE_H

#include <stdint.h>
#include "dataplane/dp_config-t.h"

struct dp_res_index;

/* Builds the index of <cfg>'s resources in memory of NUMA <socket>. Returns it, or NULL
 * when memory is short. An index of no resources is valid (every lookup misses). */
struct dp_res_index *dp_res_index_build(const struct dp_config *cfg, int socket);

/* Frees <x> (NULL accepted). */
void dp_res_index_free(struct dp_res_index *x);

/* The index in cfg->resources of the resource at <addr> (network order, IPv4 in
 * addr[0]) and <port> (host order) of IP version <ip_ver>, or -1. */
int dp_res_find(const struct dp_res_index *x, uint8_t ip_ver, const uint32_t *addr, uint16_t port);

/* 1 when some resource has address <addr> (any port), else 0. */
int dp_res_addr_known(const struct dp_res_index *x, uint8_t ip_ver, const uint32_t *addr);

#endif
