/* dp_counters.h - counter names and helpers (see dp_counters-t.h). */
#ifndef TG_DP_COUNTERS_H
#define TG_DP_COUNTERS_H

#include <stdio.h>
#include "dataplane/dp_counters-t.h"

#define DP_CNT_INC(c, name)     ((c)->v[DP_CNT_##name]++)
#define DP_CNT_ADD(c, name, n)  ((c)->v[DP_CNT_##name] += (n))
#define DP_CNT_GET(c, name)     ((c)->v[DP_CNT_##name])

/* Name of counter <id> ("rx_pkts"), or "?" when out of range. */
const char *dp_counter_name(enum dp_counter_id id);
/* One-line help text of counter <id>. */
const char *dp_counter_help(enum dp_counter_id id);
/* Adds every counter of <src> into <dst>. */
void dp_counters_sum(struct dp_counters *dst, const struct dp_counters *src);
/* Prints the non-zero counters of <c> as "  name value" lines, each prefixed by <prefix>. */
void dp_counters_print(FILE *f, const char *prefix, const struct dp_counters *c);

#endif
