/* tgd_ops.h - what the management API asks of the daemon (struct api_ops), and the
 * API's settings from the config. */
#ifndef TG_TGD_OPS_H
#define TG_TGD_OPS_H

#include "appliance/tgd-t.h"
#include "mgmt/api.h"

/* Fills <ac> from the daemon's config. */
void tgd_ops_config(const struct tgd *d, struct api_config *ac);
/* Fills <ops> with the daemon's operations (ctx = <d>). */
void tgd_ops_init(struct tgd *d, struct api_ops *ops);
/* Prometheus text of the data-plane counters (per worker and total), ring occupancy and
 * policy version; malloc'd. Exposed for tests. */
char *tgd_ops_metrics_text(struct tgd *d);
/* The slow path's rule scratch, for the policy in force (made or grown when the policy
 * changed). One thread runs the slow path and the API: one scratch serves both. NULL
 * when no rules are in force or it cannot be allocated. */
struct rule_scratch *tgd_rule_scratch(struct tgd *d);

#endif
