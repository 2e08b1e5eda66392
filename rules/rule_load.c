/* rule_load.c - rule files: reading, hashing, parsing (libconfig) and checking every
 * setting of every rule, then handing the rules to rule_compile.c.
 *
 * Each setting of a rule is a row of ld_rule_dirs[] (name, setter); the walker visits
 * every setting written in the rule's group, finds its row or refuses it as unknown
 * (with the nearest known name), and calls the setter. Checks that involve several
 * settings (a mask needs a mask-able target, ...) run when the group is done.
 * Every error is one line: "FILE:LINE: rule ID: problem".
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libconfig.h>
#include <openssl/evp.h>

#include "common/tg_log.h"
#include "rules/rule.h"
#include "rules/rule_int.h"
#include "rules/validators.h"

/* Bumped whenever the way databases are compiled changes, so that old cache entries
 * are never read back. */
#define LD_CACHE_FORMAT  "tollgate-rules-cache-v1"

/* Settings given in the current rule's group (for the checks that follow it). */
#define LD_G_ID         (1u << 0)
#define LD_G_ACTION     (1u << 1)
#define LD_G_PROTOCOLS  (1u << 2)
#define LD_G_RESOURCES  (1u << 3)
#define LD_G_TARGET     (1u << 4)
#define LD_G_PATTERNS   (1u << 5)
#define LD_G_UNLESS     (1u << 6)
#define LD_G_COLUMNS    (1u << 7)
#define LD_G_VALIDATOR  (1u << 8)
#define LD_G_MASK       (1u << 9)
#define LD_G_MESSAGE    (1u << 10)
#define LD_G_ENABLED    (1u << 11)
#define LD_G_NOCASE     (1u << 12)
#define LD_G_DIGITS     (1u << 13)

/* State of one rule_set_load() call. */
struct ld_ctx {
	struct rule_set *rs;         /* being filled */
	const struct dp_config *res; /* resource names, or NULL */
	const char *file;            /* the file being read, first in every error */
	unsigned rule_no;            /* 1-based position of the rule in its file */
	unsigned given;              /* LD_G_* of the current rule */
	unsigned gline[16];          /* line of each given setting, by LD_G_* bit number */
	const char *text;            /* the file's bytes, and where each line starts */
	uint32_t *lines;
	unsigned n_lines;
	char *err;
	size_t errlen;
};

typedef int (*ld_set_pt)(struct ld_ctx *x, struct rule *r, const config_setting_t *s);

/* One row of the settings table of a rule. */
struct ld_dir {
	const char *name;
	unsigned bit;                /* LD_G_* */
	ld_set_pt set;
};

static int ld_set_id(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_action(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_protocols(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_resources(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_target(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_patterns(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_unless(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_columns(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_validator(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_mask(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_message(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_enabled(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_nocase(struct ld_ctx *x, struct rule *r, const config_setting_t *s);
static int ld_set_min_digits(struct ld_ctx *x, struct rule *r, const config_setting_t *s);

static const struct ld_dir ld_rule_dirs[] = {
	{ "id",        LD_G_ID,        ld_set_id },
	{ "action",    LD_G_ACTION,    ld_set_action },
	{ "protocols", LD_G_PROTOCOLS, ld_set_protocols },
	{ "resources", LD_G_RESOURCES, ld_set_resources },
	{ "target",    LD_G_TARGET,    ld_set_target },
	{ "patterns",  LD_G_PATTERNS,  ld_set_patterns },
	{ "unless",    LD_G_UNLESS,    ld_set_unless },
	{ "columns",   LD_G_COLUMNS,   ld_set_columns },
	{ "validator", LD_G_VALIDATOR, ld_set_validator },
	{ "mask",      LD_G_MASK,      ld_set_mask },
	{ "message",   LD_G_MESSAGE,   ld_set_message },
	{ "enabled",   LD_G_ENABLED,   ld_set_enabled },
	{ "nocase",    LD_G_NOCASE,    ld_set_nocase },
	{ "min_digits", LD_G_DIGITS,   ld_set_min_digits },
};
#define LD_N_DIRS (sizeof(ld_rule_dirs) / sizeof(ld_rule_dirs[0]))

static const char *const ld_mask_keys[] = { "keep_first", "keep_last", "char", "preserve_class" };

/* Action names in files; "allow" is not one (it never wins over anything). */
static const struct {
	const char *name;
	enum rule_action action;
} ld_actions[] = {
	{ "alert", RULE_ALERT }, { "mask", RULE_MASK }, { "review", RULE_REVIEW },
	{ "block", RULE_BLOCK }, { "reset", RULE_RESET },
};

static const char *const ld_targets[RULE_T__MAX] = {
	[RULE_T_STATEMENT] = "statement", [RULE_T_FINGERPRINT] = "fingerprint",
	[RULE_T_RAW] = "raw", [RULE_T_FIELD] = "field", [RULE_T_COLUMN] = "column",
};

/* Protocol names in files; several names may map to one decoder. */
static const struct {
	const char *name;
	enum dp_proto_id id;
} ld_protos[] = {
	{ "postgresql", DP_PROTO_PG }, { "pg", DP_PROTO_PG }, { "mysql", DP_PROTO_MYSQL },
	{ "redis", DP_PROTO_REDIS }, { "http", DP_PROTO_HTTP }, { "test", DP_PROTO_TEST },
};

/* Every protocol with a decoder: the default of "protocols". */
#define LD_ALL_PROTOS  ((uint16_t)((1u << DP_PROTO_PG) | (1u << DP_PROTO_MYSQL) | \
	(1u << DP_PROTO_REDIS) | (1u << DP_PROTO_HTTP) | (1u << DP_PROTO_TEST)))

/* ---- errors ---------------------------------------------------------------------- */

/* Writes "FILE:LINE: rule ID: <fmt>" (no LINE when 0, no rule when <r> is NULL) into
 * the error buffer. Returns -1. */
static int ld_err(struct ld_ctx *x, const struct rule *r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int ld_err(struct ld_ctx *x, const struct rule *r, unsigned line, const char *fmt, ...)
{
	char where[96] = "", who[RULE_ID_MAX + 24] = "";
	char msg[768];
	va_list ap;

	if (x->err == NULL || x->errlen == 0)
		return -1;
	if (line > 0)
		snprintf(where, sizeof(where), ":%u", line);
	if (r != NULL) {
		if (r->id[0] != '\0')
			snprintf(who, sizeof(who), " rule %s:", r->id);
		else
			snprintf(who, sizeof(who), " rule #%u:", x->rule_no);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s%s:%s %s", x->file, where, who, msg);
	return -1;
}

static unsigned ld_line(const config_setting_t *s)
{
	return s != NULL ? config_setting_source_line(s) : 0;
}

/* Edit distance of two short names (for "did you mean"). */
static unsigned ld_distance(const char *a, const char *b)
{
	unsigned la = (unsigned)strlen(a), lb = (unsigned)strlen(b);
	unsigned row[32], prev, tmp;

	if (la >= 32 || lb >= 32)
		return 99;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned best = prev + (tolower((unsigned char)a[i - 1]) !=
						tolower((unsigned char)b[j - 1]));

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The known name nearest to <name>, if near enough to be a typo. The names are the
 * first member of <n> elements of <stride> bytes at <base> (a table's rows). */
static const char *ld_suggest(const char *name, const void *base, size_t stride, size_t n)
{
	const char *best = NULL;
	unsigned bd = 3;

	for (size_t i = 0; i < n; i++) {
		const char *known = *(const char *const *)(const void *)((const char *)base + i * stride);
		unsigned d = ld_distance(name, known);

		if (d < bd) {
			bd = d;
			best = known;
		}
	}
	return best;
}

/* ---- value readers ----------------------------------------------------------------- */

static int ld_string(struct ld_ctx *x, struct rule *r, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return ld_err(x, r, ld_line(s), "%s: must be a string", config_setting_name(s));
	*out = config_setting_get_string(s);
	return 0;
}

static int ld_bool(struct ld_ctx *x, struct rule *r, const config_setting_t *s, uint8_t *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return ld_err(x, r, ld_line(s), "%s: must be true or false", config_setting_name(s));
	*out = (uint8_t)config_setting_get_bool(s);
	return 0;
}

/* Writes <v> as libconfig would need it written in a file (escapes) into <out>;
 * returns its length, or 0 if it does not fit. */
static size_t ld_escape(const char *v, char *out, size_t cap)
{
	size_t n = 0;

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		char e[8];
		int k;

		if (c == '\\' || c == '"')
			k = snprintf(e, sizeof(e), "\\%c", c);
		else if (c == '\n')
			k = snprintf(e, sizeof(e), "\\n");
		else if (c == '\t')
			k = snprintf(e, sizeof(e), "\\t");
		else if (c == '\r')
			k = snprintf(e, sizeof(e), "\\r");
		else if (c == '\f')
			k = snprintf(e, sizeof(e), "\\f");
		else if (c < 0x20)
			k = snprintf(e, sizeof(e), "\\x%02x", c);
		else
			k = snprintf(e, sizeof(e), "%c", c);
		if (n + (size_t)k + 1 > cap)
			return 0;
		memcpy(out + n, e, (size_t)k);
		n += (size_t)k;
	}
	out[n] = '\0';
	return n;
}

/* The line of string element <e> (value <v>) of array <s>. libconfig gives the last
 * element of an array the line of the token after it (the closing bracket), so the
 * lines from there back to the array's own line are searched for the string. */
static unsigned ld_elem_line(struct ld_ctx *x, const config_setting_t *s,
			     const config_setting_t *e, const char *v)
{
	unsigned line = ld_line(e), first = ld_line(s);
	char esc[RULE_PATTERN_MAX * 4 + 3];
	size_t n;

	if (x->text == NULL || line == 0 || line > x->n_lines || first > line)
		return line;
	esc[0] = '"';
	if ((n = ld_escape(v, esc + 1, sizeof(esc) - 2)) == 0)
		return line;
	esc[n + 1] = '"';
	for (unsigned l = line; l >= first && l >= 1; l--) {
		const char *b = x->text + x->lines[l - 1];
		const char *end = l < x->n_lines ? x->text + x->lines[l] : b + strlen(b);

		if (memmem(b, (size_t)(end - b), esc, n + 2) != NULL)
			return l;
	}
	return line;
}

/* Calls <each> on every string of <s>: a string, or an array or list of strings.
 * <each> gets the element, whose line errors should name via ld_elem_line(). */
typedef int (*ld_each_pt)(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line);

static int ld_strings(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
		      unsigned max, ld_each_pt each)
{
	const char *name = config_setting_name(s);
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return each(x, r, s, config_setting_get_string(s), ld_line(s));
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return ld_err(x, r, ld_line(s), "%s: must be a string or an array of strings", name);
	n = config_setting_length(s);
	if (n == 0)
		return ld_err(x, r, ld_line(s), "%s: must not be empty", name);
	if ((unsigned)n > max)
		return ld_err(x, r, ld_line(s), "%s: at most %u entries", name, max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return ld_err(x, r, ld_line(e), "%s: must be a string or an array of strings",
				      name);
		if (each(x, r, e, config_setting_get_string(e),
			 ld_elem_line(x, s, e, config_setting_get_string(e))) < 0)
			return -1;
	}
	return 0;
}

/* ---- setters ----------------------------------------------------------------------- */

static int ld_set_id(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	size_t n;

	if (ld_string(x, r, s, &v) < 0)
		return -1;
	n = strlen(v);
	if (n == 0 || n >= RULE_ID_MAX)
		return ld_err(x, r, ld_line(s), "id: must be 1 to %d characters", RULE_ID_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) ||
		      v[i] == '.' || v[i] == '_' || v[i] == '-'))
			return ld_err(x, r, ld_line(s),
				      "id \"%s\": only a-z, 0-9, '.', '_' and '-' are allowed", v);
	memcpy(r->id, v, n + 1);
	return 0;
}

static int ld_set_action(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;

	if (ld_string(x, r, s, &v) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(ld_actions) / sizeof(ld_actions[0]); i++)
		if (strcmp(v, ld_actions[i].name) == 0) {
			r->action = (uint8_t)ld_actions[i].action;
			return 0;
		}
	return ld_err(x, r, ld_line(s),
		      "action \"%s\": must be one of block, mask, reset, alert, review", v);
}

static int ld_each_proto(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			 const char *v, unsigned line)
{
	for (size_t k = 0; k < sizeof(ld_protos) / sizeof(ld_protos[0]); k++)
		if (strcmp(v, ld_protos[k].name) == 0) {
			r->protos |= (uint16_t)(1u << ld_protos[k].id);
			return 0;
		}
	return ld_err(x, r, line,
		      "protocols: unknown protocol \"%s\" (postgresql, pg, mysql, redis, http)", v);
}

static int ld_set_protocols(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	r->protos = 0;
	return ld_strings(x, r, s, 16, ld_each_proto);
}

static int ld_each_resource(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			    const char *v, unsigned line)
{
	if (strcmp(v, "*") == 0) {
		r->all_res = 1;
		return 0;
	}
	if (x->res == NULL)
		return ld_err(x, r, line, "resources: unknown resource \"%s\" "
			      "(no resources are configured here; use \"*\")", v);
	for (unsigned k = 0; k < x->res->n_resources && k < DP_MAX_RESOURCES; k++)
		if (strcmp(v, x->res->resources[k].name) == 0) {
			r->res[k / 64] |= 1ull << (k % 64);
			return 0;
		}
	return ld_err(x, r, line, "resources: unknown resource \"%s\"", v);
}

static int ld_set_resources(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	r->all_res = 0;
	return ld_strings(x, r, s, DP_MAX_RESOURCES, ld_each_resource);
}

static int ld_set_target(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;

	if (ld_string(x, r, s, &v) < 0)
		return -1;
	for (unsigned i = 0; i < RULE_T__MAX; i++)
		if (strcmp(v, ld_targets[i]) == 0) {
			r->target = (uint8_t)i;
			return 0;
		}
	return ld_err(x, r, ld_line(s),
		      "target \"%s\": must be one of statement, fingerprint, raw, field, column", v);
}

/* Appends pattern <v> to <*list>/<*n> (already sized by the caller). */
static int ld_pattern(struct ld_ctx *x, struct rule *r, unsigned line, const char *v,
		      struct rule_pattern *list, uint16_t *n, const char *what)
{
	size_t len = strlen(v);

	if (len == 0)
		return ld_err(x, r, line, "%s: a pattern must not be empty", what);
	if (len >= RULE_PATTERN_MAX)
		return ld_err(x, r, line, "%s: a pattern is longer than %d bytes", what,
			      RULE_PATTERN_MAX - 1);
	if ((list[*n].re = strdup(v)) == NULL)
		return ld_err(x, r, line, "out of memory");
	list[*n].line = line;
	(*n)++;
	return 0;
}

static int ld_each_pattern(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			   const char *v, unsigned line)
{
	return ld_pattern(x, r, line, v, r->pats, &r->n_pats, "patterns");
}

static int ld_each_unless(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line)
{
	return ld_pattern(x, r, line, v, r->unless, &r->n_unless, "unless");
}

static int ld_set_patterns(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->pats = calloc(RULE_MAX_PATTERNS, sizeof(*r->pats))) == NULL)
		return ld_err(x, r, ld_line(s), "out of memory");
	return ld_strings(x, r, s, RULE_MAX_PATTERNS, ld_each_pattern);
}

static int ld_set_unless(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->unless = calloc(RULE_MAX_PATTERNS, sizeof(*r->unless))) == NULL)
		return ld_err(x, r, ld_line(s), "out of memory");
	return ld_strings(x, r, s, RULE_MAX_PATTERNS, ld_each_unless);
}

static int ld_each_column(struct ld_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line)
{
	if (v[0] == '\0' || strlen(v) >= DP_NAME_MAX * 4)
		return ld_err(x, r, line, "columns: a name must be 1 to %d bytes",
			      DP_NAME_MAX * 4 - 1);
	if ((r->cols[r->n_cols] = strdup(v)) == NULL)
		return ld_err(x, r, line, "out of memory");
	r->n_cols++;
	return 0;
}

static int ld_set_columns(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->cols = calloc(RULE_MAX_COLUMNS, sizeof(*r->cols))) == NULL)
		return ld_err(x, r, ld_line(s), "out of memory");
	return ld_strings(x, r, s, RULE_MAX_COLUMNS, ld_each_column);
}

static int ld_set_validator(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	char names[128];
	int id;

	if (ld_string(x, r, s, &v) < 0)
		return -1;
	if ((id = rule_val_lookup(v)) < 0)
		return ld_err(x, r, ld_line(s), "validator \"%s\": unknown (known: %s)", v,
			      rule_val_names(names, sizeof(names)));
	r->validator = (uint8_t)id;
	return 0;
}

/* Reads the integer <s> in [0, RULE_KEEP_MAX] into <*out>. */
static int ld_keep(struct ld_ctx *x, struct rule *r, const config_setting_t *s, uint16_t *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return ld_err(x, r, ld_line(s), "mask.%s: must be an integer", config_setting_name(s));
	v = config_setting_get_int64(s);
	if (v < 0 || v > RULE_KEEP_MAX)
		return ld_err(x, r, ld_line(s), "mask.%s: must be between 0 and %d",
			      config_setting_name(s), RULE_KEEP_MAX);
	*out = (uint16_t)v;
	return 0;
}

static int ld_set_mask(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return ld_err(x, r, ld_line(s), "mask: must be a group { keep_first = ...; }");
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e), *v = NULL, *near;

		if (strcmp(name, "keep_first") == 0) {
			if (ld_keep(x, r, e, &r->mask.keep_first) < 0)
				return -1;
		} else if (strcmp(name, "keep_last") == 0) {
			if (ld_keep(x, r, e, &r->mask.keep_last) < 0)
				return -1;
		} else if (strcmp(name, "char") == 0) {
			if (ld_string(x, r, e, &v) < 0)
				return -1;
			if (strlen(v) != 1 || v[0] < 0x20 || v[0] > 0x7e)
				return ld_err(x, r, ld_line(e),
					      "mask.char: must be one printable ASCII character");
			r->mask.ch = (uint8_t)v[0];
		} else if (strcmp(name, "preserve_class") == 0) {
			if (ld_bool(x, r, e, &r->mask.preserve_class) < 0)
				return -1;
		} else {
			near = ld_suggest(name, ld_mask_keys, sizeof(ld_mask_keys[0]),
					  sizeof(ld_mask_keys) / sizeof(ld_mask_keys[0]));
			return ld_err(x, r, ld_line(e), "mask: unknown setting \"%s\"%s%s%s", name,
				      near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
		}
	}
	return 0;
}

static int ld_set_message(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	size_t n;

	if (ld_string(x, r, s, &v) < 0)
		return -1;
	n = strlen(v);
	if (n == 0 || n >= RULE_MESSAGE_MAX)
		return ld_err(x, r, ld_line(s), "message: must be 1 to %d characters",
			      RULE_MESSAGE_MAX - 1);
	/* the message goes into protocol replies (Redis "-ERR ...\r\n", HTTP bodies):
	 * a control character could end the reply early */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return ld_err(x, r, ld_line(s), "message: control characters are not allowed");
	free(r->message);
	if ((r->message = strdup(v)) == NULL)
		return ld_err(x, r, ld_line(s), "out of memory");
	return 0;
}

static int ld_set_enabled(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	return ld_bool(x, r, s, &r->enabled);
}

static int ld_set_nocase(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	return ld_bool(x, r, s, &r->nocase);
}

static int ld_set_min_digits(struct ld_ctx *x, struct rule *r, const config_setting_t *s)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return ld_err(x, r, ld_line(s), "min_digits: must be an integer");
	v = config_setting_get_int64(s);
	if (v < 0 || v > RULE_DIGITS_MAX)
		return ld_err(x, r, ld_line(s), "min_digits: must be between 0 and %d", RULE_DIGITS_MAX);
	r->min_digits = (uint16_t)v;
	return 0;
}

/* ---- one rule ------------------------------------------------------------------------ */

/* The line of setting <bit> (LD_G_*) of the current rule, or <dflt> if not given. */
static unsigned ld_gl(const struct ld_ctx *x, unsigned bit, unsigned dflt)
{
	return (x->given & bit) ? x->gline[__builtin_ctz(bit)] : dflt;
}

/* Checks that involve several settings, and fills in the defaults. An error names the
 * line of the setting that is out of place, or the rule's when one is missing. */
static int ld_finish(struct ld_ctx *x, struct rule *r, const config_setting_t *grp)
{
	unsigned g = x->given, line = ld_line(grp);
	unsigned tline = ld_gl(x, LD_G_TARGET, ld_gl(x, LD_G_ACTION, line));
	int cmd;

	if (!(g & LD_G_ID))
		return ld_err(x, r, line, "missing setting \"id\"");
	if (!(g & LD_G_ACTION))
		return ld_err(x, r, line, "missing setting \"action\"");
	if (!(g & LD_G_TARGET)) {
		if (r->action != RULE_MASK)
			r->target = RULE_T_STATEMENT;
		else if ((g & LD_G_COLUMNS) && !(g & LD_G_PATTERNS))
			r->target = RULE_T_COLUMN;
		else
			r->target = RULE_T_FIELD;
	}
	cmd = r->target <= RULE_T_RAW;
	if (r->action == RULE_MASK && cmd)
		return ld_err(x, r, tline, "action mask needs target field or column, not %s "
			      "(a statement cannot be masked)", ld_targets[r->target]);
	if (r->action != RULE_MASK && !cmd)
		return ld_err(x, r, tline, "target %s is for mask rules (action = \"mask\")",
			      ld_targets[r->target]);
	if (r->target == RULE_T_COLUMN) {
		if (!(g & LD_G_COLUMNS))
			return ld_err(x, r, line, "target column needs \"columns\"");
		if (g & LD_G_PATTERNS)
			return ld_err(x, r, ld_gl(x, LD_G_PATTERNS, line), "\"patterns\" cannot be used with target column "
				      "(it masks whole fields by column name)");
		if (g & LD_G_VALIDATOR)
			return ld_err(x, r, ld_gl(x, LD_G_VALIDATOR, line),
				      "\"validator\" cannot be used with target column");
		if (g & LD_G_NOCASE)
			return ld_err(x, r, ld_gl(x, LD_G_NOCASE, line), "\"nocase\" cannot be used with target column "
				      "(column names are always compared without case)");
	} else {
		if (!(g & LD_G_PATTERNS))
			return ld_err(x, r, line, "missing setting \"patterns\"");
		if (g & LD_G_COLUMNS)
			return ld_err(x, r, ld_gl(x, LD_G_COLUMNS, line), "\"columns\" is only for target column");
	}
	if ((g & LD_G_DIGITS) && r->target != RULE_T_FIELD)
		return ld_err(x, r, ld_gl(x, LD_G_DIGITS, line), "\"min_digits\" is only for target field");
	if ((g & LD_G_VALIDATOR) && r->target != RULE_T_FIELD)
		return ld_err(x, r, ld_gl(x, LD_G_VALIDATOR, line), "\"validator\" is only for target field");
	if ((g & LD_G_UNLESS) && !cmd)
		return ld_err(x, r, ld_gl(x, LD_G_UNLESS, line), "\"unless\" is only for targets statement, fingerprint "
			      "and raw");
	if ((g & LD_G_MASK) && r->action != RULE_MASK)
		return ld_err(x, r, ld_gl(x, LD_G_MASK, line), "\"mask\" needs action mask");
	if (!(g & LD_G_NOCASE))
		r->nocase = r->target != RULE_T_FIELD;
	if (r->mask.ch == 0)
		r->mask.ch = '*';
	if (r->message == NULL) {
		char msg[RULE_MESSAGE_MAX];

		switch (r->action) {
		case RULE_ALERT:  snprintf(msg, sizeof(msg), "matched policy rule %s", r->id); break;
		case RULE_MASK:   snprintf(msg, sizeof(msg), "masked by policy rule %s", r->id); break;
		case RULE_REVIEW: snprintf(msg, sizeof(msg), "held for review by policy rule %s", r->id); break;
		default:          snprintf(msg, sizeof(msg), "blocked by policy rule %s", r->id); break;
		}
		if ((r->message = strdup(msg)) == NULL)
			return ld_err(x, r, line, "out of memory");
	}
	if (r->n_unless > 0)
		r->unless_slot = (int32_t)x->rs->n_unless++;
	return 0;
}

/* Whether an earlier rule has <r>'s id; returns it or NULL. */
static const struct rule *ld_dup(const struct rule_set *rs, const struct rule *r)
{
	for (const struct rule *o = rs->rules; o < r; o++)
		if (strcmp(o->id, r->id) == 0)
			return o;
	return NULL;
}

/* Reads the rule in group <grp> into <r> (zeroed by the caller). */
static int ld_rule(struct ld_ctx *x, struct rule *r, const config_setting_t *grp)
{
	const config_setting_t *id;
	const struct rule *o;

	r->enabled = 1;
	r->all_res = 1;
	r->protos = LD_ALL_PROTOS;
	r->unless_slot = -1;
	r->mask.preserve_class = 1;
	x->given = 0;
	if (config_setting_type(grp) != CONFIG_TYPE_GROUP)
		return ld_err(x, r, ld_line(grp), "each rule must be a group { id = ...; ... }");
	/* the id first, so that every later error can name the rule */
	if ((id = config_setting_get_member(grp, "id")) != NULL && ld_set_id(x, r, id) < 0)
		return -1;
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s), *near;
		size_t k;

		for (k = 0; k < LD_N_DIRS; k++)
			if (strcmp(name, ld_rule_dirs[k].name) == 0)
				break;
		if (k == LD_N_DIRS) {
			near = ld_suggest(name, ld_rule_dirs, sizeof(ld_rule_dirs[0]), LD_N_DIRS);
			return ld_err(x, r, ld_line(s), "unknown setting \"%s\"%s%s%s", name,
				      near ? " (did you mean \"" : "", near ? near : "",
				      near ? "\"?)" : "");
		}
		x->given |= ld_rule_dirs[k].bit;
		x->gline[__builtin_ctz(ld_rule_dirs[k].bit)] = ld_line(s);
		if (s != id && ld_rule_dirs[k].set(x, r, s) < 0)
			return -1;
	}
	if (ld_finish(x, r, grp) < 0)
		return -1;
	if ((o = ld_dup(x->rs, r)) != NULL)
		return ld_err(x, r, ld_line(grp), "duplicate id (first defined at %s:%u)", o->file,
			      o->line);
	return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

/* Reads the whole file into a NUL-terminated buffer in *<out>, its length in *<len>. */
static int ld_read(struct ld_ctx *x, char **out, size_t *len)
{
	FILE *f = fopen(x->file, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return ld_err(x, NULL, 0, "cannot open: %s", strerror(errno));
	if ((buf = malloc(RULE_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return ld_err(x, NULL, 0, "out of memory");
	}
	n = fread(buf, 1, RULE_FILE_MAX + 1, f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return ld_err(x, NULL, 0, "cannot read: %s", strerror(errno));
	}
	fclose(f);
	if (n > RULE_FILE_MAX) {
		free(buf);
		return ld_err(x, NULL, 0, "too large (over %u bytes)", RULE_FILE_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Refuses NUL bytes (libconfig would stop there unseen) and @include (the set's hash,
 * which keys the cache, covers the named files only). */
static int ld_prescan(struct ld_ctx *x, const char *text, size_t len)
{
	unsigned line = 1;
	int bol = 1;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\0')
			return ld_err(x, NULL, line, "contains a NUL byte");
		if (bol && strncmp(text + i, "@include", 8) == 0)
			return ld_err(x, NULL, line, "@include is not supported: name every rule "
				      "file instead");
		if (c == '\n') {
			line++;
			bol = 1;
		} else if (c != ' ' && c != '\t') {
			bol = 0;
		}
	}
	return 0;
}

/* Notes where each line of <text> starts (for ld_elem_line()). */
static int ld_lines(struct ld_ctx *x, const char *text)
{
	unsigned n = 1;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	if ((x->lines = malloc(n * sizeof(uint32_t))) == NULL)
		return ld_err(x, NULL, 0, "out of memory");
	x->n_lines = 0;
	x->lines[x->n_lines++] = 0;
	for (const char *p = text; *p; p++)
		if (*p == '\n' && x->n_lines < n)
			x->lines[x->n_lines++] = (uint32_t)(p + 1 - text);
	x->text = text;
	return 0;
}

/* Parses <text> and appends its rules to x->rs. */
static int ld_parse(struct ld_ctx *x, const char *text, unsigned file_idx)
{
	struct rule_set *rs = x->rs;
	const config_setting_t *root, *list;
	config_t cf;
	int rc = -1, n;

	config_init(&cf);
	if (config_read_string(&cf, text) != CONFIG_TRUE) {
		ld_err(x, NULL, (unsigned)config_error_line(&cf), "%s", config_error_text(&cf));
		goto out;
	}
	if (ld_lines(x, text) < 0)
		goto out;
	root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);

		if (strcmp(config_setting_name(s), "rules") != 0) {
			ld_err(x, NULL, ld_line(s), "unknown setting \"%s\" (a rule file has one "
			       "setting: rules = ( ... );)", config_setting_name(s));
			goto out;
		}
	}
	if ((list = config_setting_get_member(root, "rules")) == NULL) {
		ld_err(x, NULL, 0, "missing setting \"rules\" (rules = ( { id = ...; }, ... );)");
		goto out;
	}
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0)) {
		ld_err(x, NULL, ld_line(list), "rules: must be a list ( { ... }, { ... } )");
		goto out;
	}
	n = config_setting_length(list);
	if (rs->n_rules + (unsigned)n > RULE_MAX_RULES) {
		ld_err(x, NULL, ld_line(list), "rules: more than %d rules in all", RULE_MAX_RULES);
		goto out;
	}
	if (n > 0) {
		struct rule *nr = realloc(rs->rules, (rs->n_rules + (unsigned)n) * sizeof(*nr));

		if (nr == NULL) {
			ld_err(x, NULL, 0, "out of memory");
			goto out;
		}
		rs->rules = nr;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct rule *r = &rs->rules[rs->n_rules];

		memset(r, 0, sizeof(*r));
		r->file = rs->files[file_idx];
		r->line = ld_line(g);
		x->rule_no = (unsigned)i + 1;
		rs->n_rules++;          /* counted at once: rule_set_free() frees it on error */
		if (ld_rule(x, r, g) < 0)
			goto out;
	}
	rc = 0;
out:
	free(x->lines);
	x->lines = NULL;
	x->text = NULL;
	config_destroy(&cf);
	return rc;
}

/* Fills the per-protocol column lists and resource maps that the match side reads. */
static int ld_index(struct ld_ctx *x)
{
	struct rule_set *rs = x->rs;

	if (rs->n_unless > 0) {
		if ((rs->unless_rules = calloc(rs->n_unless, sizeof(uint32_t))) == NULL)
			return ld_err(x, NULL, 0, "out of memory");
		for (unsigned i = 0; i < rs->n_rules; i++)
			if (rs->rules[i].unless_slot >= 0)
				rs->unless_rules[rs->rules[i].unless_slot] = i;
	}
	for (unsigned p = 0; p < DP_PROTO__MAX; p++) {
		for (unsigned i = 0; i < rs->n_rules; i++) {
			const struct rule *r = &rs->rules[i];

			if (!r->enabled || !(r->protos & (1u << p)) || r->action != RULE_MASK)
				continue;
			if (r->target == RULE_T_COLUMN) {
				if (rs->cols[p] == NULL &&
				    (rs->cols[p] = calloc(rs->n_rules, sizeof(uint32_t))) == NULL)
					return ld_err(x, NULL, 0, "out of memory");
				rs->cols[p][rs->n_cols[p]++] = i;
			}
			if (r->target == RULE_T_FIELD) {
				rs->field_all[p] |= r->all_res;
				for (unsigned w = 0; w < RULE_RES_WORDS; w++)
					rs->field_res[p][w] |= r->res[w];
			}
			rs->result_all[p] |= r->all_res;
			for (unsigned w = 0; w < RULE_RES_WORDS; w++)
				rs->result_res[p][w] |= r->res[w];
		}
	}
	return 0;
}

static void ld_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static double ld_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads every file: the set hash (the files' bytes), the cache key (their lengths and
 * bytes, Hyperscan's version and the platform), and the rules. */
static int ld_files(struct ld_ctx *x, const char *const *files, unsigned n_files, char *key_hex)
{
	EVP_MD_CTX *hs = EVP_MD_CTX_new(), *ks = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	hs_platform_info_t plat;
	unsigned dl;
	int rc = -1;

	memset(&plat, 0, sizeof(plat));
	if (hs == NULL || ks == NULL || !EVP_DigestInit_ex(hs, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(ks, EVP_sha256(), NULL)) {
		ld_err(x, NULL, 0, "cannot set up SHA-256");
		goto out;
	}
	hs_populate_platform(&plat);
	EVP_DigestUpdate(ks, LD_CACHE_FORMAT, sizeof(LD_CACHE_FORMAT));
	EVP_DigestUpdate(ks, hs_version(), strlen(hs_version()) + 1);
	EVP_DigestUpdate(ks, &plat.tune, sizeof(plat.tune));
	EVP_DigestUpdate(ks, &plat.cpu_features, sizeof(plat.cpu_features));
	for (unsigned i = 0; i < n_files; i++) {
		uint64_t len64;
		size_t len = 0;
		char *text = NULL;

		x->file = files[i];
		if (ld_read(x, &text, &len) < 0)
			goto out;
		len64 = len;
		EVP_DigestUpdate(hs, text, len);
		EVP_DigestUpdate(ks, &len64, sizeof(len64));
		EVP_DigestUpdate(ks, text, len);
		if (ld_prescan(x, text, len) < 0 || ld_parse(x, text, i) < 0) {
			free(text);
			goto out;
		}
		free(text);
	}
	if (!EVP_DigestFinal_ex(hs, d, &dl) || dl != 32) {
		ld_err(x, NULL, 0, "cannot compute SHA-256");
		goto out;
	}
	ld_hex(d, 32, x->rs->hash);
	if (!EVP_DigestFinal_ex(ks, d, &dl) || dl != 32) {
		ld_err(x, NULL, 0, "cannot compute SHA-256");
		goto out;
	}
	ld_hex(d, 32, key_hex);
	rc = 0;
out:
	EVP_MD_CTX_free(hs);
	EVP_MD_CTX_free(ks);
	return rc;
}

int rule_set_load(const char *const *files, unsigned n_files, const struct dp_config *res,
		  const char *cache_dir, struct rule_set **out, char *err, size_t errlen)
{
	struct ld_ctx x = { .res = res, .file = "rules", .err = err, .errlen = errlen };
	struct rule_set *rs;
	char key_hex[65];
	double t0 = ld_now_ms();

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = NULL;
	if (n_files == 0 || files == NULL)
		return ld_err(&x, NULL, 0, "no rule files given");
	if ((rs = calloc(1, sizeof(*rs))) == NULL || (rs->files = calloc(n_files, sizeof(char *))) == NULL) {
		free(rs);
		return ld_err(&x, NULL, 0, "out of memory");
	}
	x.rs = rs;
	for (unsigned i = 0; i < n_files; i++) {
		if ((rs->files[i] = strdup(files[i])) == NULL) {
			ld_err(&x, NULL, 0, "out of memory");
			goto err;
		}
		rs->n_files++;
	}
	if (ld_files(&x, files, n_files, key_hex) < 0 || ld_index(&x) < 0 ||
	    rule_check_disabled(rs, err, errlen) < 0 ||
	    rule_compile_set(rs, key_hex, cache_dir, err, errlen) < 0)
		goto err;
	TG_INFO("rules", "rule set %.12s: %u rules from %u files; %u databases compiled, "
		"%u read from the cache, in %.1f ms", rs->hash, rs->n_rules, n_files,
		rs->n_compiled, rs->n_cached, ld_now_ms() - t0);
	*out = rs;
	return 0;
err:
	rule_set_free(rs);
	return -1;
}

void rule_set_free(struct rule_set *rs)
{
	if (rs == NULL)
		return;
	rule_dbs_free(rs);
	for (unsigned i = 0; i < rs->n_rules; i++) {
		struct rule *r = &rs->rules[i];

		free(r->message);
		for (unsigned k = 0; r->pats != NULL && k < r->n_pats; k++)
			free(r->pats[k].re);
		for (unsigned k = 0; r->unless != NULL && k < r->n_unless; k++)
			free(r->unless[k].re);
		for (unsigned k = 0; r->cols != NULL && k < r->n_cols; k++)
			free(r->cols[k]);
		free(r->pats);
		free(r->unless);
		free(r->cols);
	}
	free(rs->rules);
	free(rs->unless_rules);
	for (unsigned p = 0; p < DP_PROTO__MAX; p++)
		free(rs->cols[p]);
	for (unsigned i = 0; i < rs->n_files; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs);
}

unsigned rule_set_count(const struct rule_set *rs)
{
	return rs != NULL ? rs->n_rules : 0;
}

const char *rule_id(const struct rule_set *rs, unsigned i)
{
	return rs != NULL && i < rs->n_rules ? rs->rules[i].id : NULL;
}

uint8_t rule_action(const struct rule_set *rs, unsigned i)
{
	return rs != NULL && i < rs->n_rules ? rs->rules[i].action : RULE_ALLOW;
}

const char *rule_set_hash(const struct rule_set *rs)
{
	return rs != NULL ? rs->hash : NULL;
}
