/* tg_rule_files.h - what a rule file given over the management API may be called, and
 * how many one rule set may have.
 *
 * Three places check this: the API (before anything is written), the daemon (which
 * writes the files next to its configuration) and tollctl (which writes what it fetched
 * into a directory). One definition keeps them from disagreeing, which they once did
 * (the API let through names the daemon then refused).
 */
#ifndef TG_RULE_FILES_H
#define TG_RULE_FILES_H

#include <string.h>

#define TG_RULE_FILES_MAX     32  /* rule files in one rule set (config and PUT /v1/rules) */
#define TG_RULE_FILE_NAME_MAX 100 /* characters of a file name (it becomes part of a path) */

/* A rule file name: 1 to TG_RULE_FILE_NAME_MAX letters, digits, '.', '_', '-', not
 * starting with '.' (so no "..", no hidden file, and no '/' to leave the directory). */
static inline int tg_rule_file_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > TG_RULE_FILE_NAME_MAX || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

#endif
