/* fuzz_rules.c - libFuzzer target for the rule loader: any bytes as a rule file.
 *
 * The input is written to a temporary file and loaded with rule_set_load() (no
 * resources, no cache); a set that loads is then used once (a command and a masked
 * field), so that whatever the loader accepts is also safe to run.
 * Hyperscan compile time grows with pattern complexity: run with -max_len=4096 and a
 * -timeout of a few seconds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tg_log.h"
#include "rules/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_use(const struct rule_set *rs)
{
	static const char stmt[] = "DROP TABLE T";
	/* several fields per rule and class, so that the exact pass batches them; the
	 * last holds a line break, as a field of a batch joined with line breaks might */
	char buf[] = "x4111 1111 1111 1111|jane@example.com|123-45-6789|DE89 3704 0044 0532 0130 00|"
		     "bob@example.org 5500-0000-0000-0004|AB12\nCD34";
	struct rule_field f[6] = {
		{ .off = 1, .len = 19, .col_rule = -1 },
		{ .off = 21, .len = 16, .col_rule = -1 },
		{ .off = 38, .len = 11, .col_rule = -1 },
		{ .off = 50, .len = 27, .col_rule = -1 },
		{ .off = 78, .len = 35, .col_rule = -1 },
		{ .off = 114, .len = 9, .col_rule = -1 },
	};
	struct rule_scratch *s = NULL;
	struct rule_verdict v;

	if (rule_scratch_alloc(rs, &s) != 0)
		return;
	for (uint8_t p = 0; p < DP_PROTO__MAX; p++) {
		rule_check_command(rs, s, p, 0, stmt, sizeof(stmt) - 1, stmt, sizeof(stmt) - 1,
				   stmt, sizeof(stmt) - 1, &v);
		f[2].col = rule_column_mask(rs, p, 0, "ssn", 3, &f[2].col_rule);
		rule_mask_fields(rs, s, p, 0, (uint8_t *)buf, sizeof(buf) - 1, f, 6, NULL);
	}
	rule_scratch_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_rules.XXXXXX", err[1024];
	const char *files[1] = { path };
	struct rule_set *rs = NULL;
	int fd;

	tg_log_set_level(TG_LOG_ERROR);
	if ((fd = mkstemp(path)) < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (rule_set_load(files, 1, NULL, NULL, &rs, err, sizeof(err)) == 0) {
		fuzz_use(rs);
		rule_set_free(rs);
	} else if (strlen(err) == 0) {
		abort();                 /* every failure must say why */
	}
	unlink(path);
	return 0;
}
