/* dp_counters.c - names, sums and printing of the data plane counters. */
#include <inttypes.h>
#include "dataplane/dp_counters.h"

static const char *const cnt_names[DP_CNT__MAX] = {
#define DP_CNT_NAME(name, help) #name,
	DP_COUNTERS(DP_CNT_NAME)
#undef DP_CNT_NAME
};

static const char *const cnt_help[DP_CNT__MAX] = {
#define DP_CNT_HELP(name, help) help,
	DP_COUNTERS(DP_CNT_HELP)
#undef DP_CNT_HELP
};

const char *dp_counter_name(enum dp_counter_id id)
{
	return (unsigned)id < DP_CNT__MAX ? cnt_names[id] : "?";
}

const char *dp_counter_help(enum dp_counter_id id)
{
	return (unsigned)id < DP_CNT__MAX ? cnt_help[id] : "?";
}

void dp_counters_sum(struct dp_counters *dst, const struct dp_counters *src)
{
	for (int i = 0; i < DP_CNT__MAX; i++)
		dst->v[i] += src->v[i];
}

void dp_counters_print(FILE *f, const char *prefix, const struct dp_counters *c)
{
	for (int i = 0; i < DP_CNT__MAX; i++)
		if (c->v[i])
			fprintf(f, "%s%-24s %" PRIu64 "\n", prefix, cnt_names[i], c->v[i]);
}
