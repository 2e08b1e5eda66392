/* policy_build.h - the policy compiler: rule files -> a policy snapshot for workers.
 *
 * Runs on the slow path: loads and compiles the rule files (rules/rule.h), wires the
 * rule set to the decoders' operations (struct proto_policy), and allocates one
 * Hyperscan scratch per worker, so that a worker never shares or grows a scratch.
 */
#ifndef TG_POLICY_BUILD_H
#define TG_POLICY_BUILD_H

#include <stddef.h>
#include "dataplane/policy-t.h"
#include "dataplane/dp_config-t.h"

/* Builds a snapshot from <n_files> rule files for <n_workers> workers. Returns NULL
 * and writes one line into <err> (file, line, rule id, problem) on failure. The
 * snapshot's destroy() frees the rule set and the scratches. */
struct dp_policy *policy_build(const char *const *files, unsigned n_files,
			       const struct dp_config *dp, const char *cache_dir,
			       unsigned n_workers, char *err, size_t errlen);

#endif
