/* rule.h - loading, compiling and matching rules (DESIGN.md §4).
 *
 * Loading parses libconfig rule files, validates every rule (errors name the file,
 * the line and the rule id), and compiles one Hyperscan database per (protocol,
 * target). Compiled databases are cached on disk (hs_serialize_database) under a key
 * made from the SHA-256 of the rule files, the Hyperscan version and the platform,
 * so that a restart does not recompile.
 *
 * Threads: rule_set_load/free run on the slow path. A loaded rule set is immutable
 * and may be read by any number of workers at once; each worker has its own
 * rule_scratch (Hyperscan's rule: one scratch per thread).
 */
#ifndef TG_RULE_H
#define TG_RULE_H

#include <stddef.h>
#include <stdint.h>
#include "rules/rule-t.h"
#include "dataplane/dp_config-t.h"

/* Loads and compiles <n_files> rule files. <res> gives resource names (rules name
 * resources; "*" or no list = all) and may be NULL (then resource lists must be "*").
 * <cache_dir> holds serialized databases (NULL: no cache). On success stores the set
 * in *<out> and returns 0. On error returns -1 and writes one line into <err>:
 * "FILE:LINE: rule ID: problem" (for Hyperscan errors, the pattern and its message). */
int rule_set_load(const char *const *files, unsigned n_files, const struct dp_config *res,
		  const char *cache_dir, struct rule_set **out, char *err, size_t errlen);

/* Frees a rule set. Only once no worker can still read it (after an RCU grace period). */
void rule_set_free(struct rule_set *rs);

/* Number of rules, and the id / action / file / line of rule <i> (for tollctl, logs). */
unsigned rule_set_count(const struct rule_set *rs);
const char *rule_id(const struct rule_set *rs, unsigned i);
uint8_t rule_action(const struct rule_set *rs, unsigned i);
/* SHA-256 (hex) of the loaded files, identifying the rule set version. */
const char *rule_set_hash(const struct rule_set *rs);

/* Allocates (or grows, if *<s> exists) a scratch usable with <rs>. Returns 0 or -1.
 * Call on the slow path when a new rule set is published, before workers use it. */
int rule_scratch_alloc(const struct rule_set *rs, struct rule_scratch **s);
void rule_scratch_free(struct rule_scratch *s);

/* Judges one command (one statement) of protocol <proto> (enum dp_proto_id) sent to
 * resource <res>. <norm> is the normalized statement, <fp> its fingerprint, <raw> the
 * text as sent (any may be NULL with length 0 when the protocol has none). Fills <v>
 * with the highest action among matching rules. Returns 0, or -1 on a scan error
 * (then <v> is RULE_ALLOW and the caller counts it). */
int rule_check_command(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
		       uint16_t res, const char *norm, uint32_t nlen, const char *fp,
		       uint32_t fplen, const char *raw, uint32_t rawlen, struct rule_verdict *v);

/* The mask a column rule puts on column <name> of resource <res>, or NULL. Stores the
 * rule index in *<rule> when not NULL. */
const struct rule_mask *rule_column_mask(const struct rule_set *rs, uint8_t proto, uint16_t res,
					 const char *name, uint32_t len, int32_t *rule);

/* Whether any field or column mask rule applies to <proto>/<res>: when not, a decoder
 * need not hold or scan results at all. */
int rule_has_result_rules(const struct rule_set *rs, uint8_t proto, uint16_t res);

/* Whether any command rule (target statement, fingerprint or raw) is loaded for
 * <proto>: when not, a statement too large to judge has nothing to be judged by. */
int rule_has_command_rules(const struct rule_set *rs, uint8_t proto);

/* Masks result fields in place. <buf> [0, <len>) is scanned once (not field by
 * field: each scan call has a fixed cost); matches of field rules are mapped to the
 * fields of <fields>; a match that crosses a field boundary is ignored; validators
 * (Luhn, mod 97, SSN) are applied to the matched bytes; matched bytes are masked
 * with the rule's format. Fields with a column mask are masked whole. Returns 0, or
 * -1 on a scan error. <st> (may be NULL) receives counts. */
int rule_mask_fields(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
		     uint16_t res, uint8_t *buf, uint32_t len, const struct rule_field *fields,
		     unsigned n_fields, struct rule_mask_stats *st);

/* Applies mask <m> to the <len> bytes at <p>. */
void rule_mask_apply(const struct rule_mask *m, uint8_t *p, uint32_t len);

#endif
