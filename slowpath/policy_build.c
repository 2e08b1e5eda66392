/* policy_build.c - rule files -> policy snapshot (see policy_build.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "slowpath/policy_build.h"
#include "rules/rule.h"

/* The decoders call these through struct proto_policy: thin casts, so that the data
 * plane does not link the rule engine and tests can give decoders fake policies. */
static int op_check_command(void *rules, void *scratch, uint8_t proto, uint16_t res,
			    const char *norm, uint32_t nlen, const char *fp, uint32_t fplen,
			    const char *raw, uint32_t rawlen, struct rule_verdict *v)
{
	return rule_check_command(rules, scratch, proto, res, norm, nlen, fp, fplen, raw, rawlen, v);
}

static const struct rule_mask *op_column_mask(void *rules, uint8_t proto, uint16_t res,
					      const char *name, uint32_t len, int32_t *rule)
{
	return rule_column_mask(rules, proto, res, name, len, rule);
}

static int op_has_result_rules(void *rules, uint8_t proto, uint16_t res)
{
	return rule_has_result_rules(rules, proto, res);
}

static int op_has_command_rules(void *rules, uint8_t proto, uint16_t res)
{
	(void)res;
	return rule_has_command_rules(rules, proto);
}

static int op_mask_fields(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
			  uint32_t len, const struct rule_field *fields, unsigned n_fields,
			  struct rule_mask_stats *st)
{
	return rule_mask_fields(rules, scratch, proto, res, buf, len, fields, n_fields, st);
}

static void policy_destroy(struct dp_policy *p)
{
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
		if (p->scratch[i])
			rule_scratch_free(p->scratch[i]);
	if (p->ops.rules)
		rule_set_free(p->ops.rules);
	free(p);
}

struct dp_policy *policy_build(const char *const *files, unsigned n_files,
			       const struct dp_config *dp, const char *cache_dir,
			       unsigned n_workers, char *err, size_t errlen)
{
	struct dp_policy *p = calloc(1, sizeof(*p));
	struct rule_set *rs = NULL;

	if (p == NULL || n_workers > DP_MAX_WORKERS) {
		snprintf(err, errlen, "policy: out of memory or too many workers (%u)", n_workers);
		free(p);
		return NULL;
	}
	p->destroy = policy_destroy;
	if (n_files == 0)
		return p; /* no rules: decoders frame and forward */
	if (rule_set_load(files, n_files, dp, cache_dir && cache_dir[0] ? cache_dir : NULL, &rs,
			  err, errlen) < 0) {
		free(p);
		return NULL;
	}
	p->ops.rules = rs;
	p->ops.check_command = op_check_command;
	p->ops.column_mask = op_column_mask;
	p->ops.has_result_rules = op_has_result_rules;
	p->ops.has_command_rules = op_has_command_rules;
	p->ops.mask_fields = op_mask_fields;
	p->n_rules = rule_set_count(rs);
	snprintf(p->hash, sizeof(p->hash), "%s", rule_set_hash(rs));
	for (unsigned i = 0; i < n_workers; i++) {
		if (rule_scratch_alloc(rs, (struct rule_scratch **)&p->scratch[i]) < 0) {
			snprintf(err, errlen, "policy: cannot allocate the rule scratch of worker %u", i);
			policy_destroy(p);
			return NULL;
		}
	}
	return p;
}
