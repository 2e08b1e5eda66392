/* rule_parse.c - one rule file's text: libconfig parsing and the check of every setting
 * of every rule.
 *
 * Each setting of a rule is a row of rp_rule_dirs[] (name, setter); the walker visits
 * every setting written in the rule's group, finds its row or refuses it as unknown
 * (with the nearest known name), and calls the setter. Checks that involve several
 * settings (a mask needs a mask-able target, ...) run when the group is done.
 * Every error is one line: "FILE:LINE: rule ID: problem".
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "rules/rule_int.h"
#include "rules/validators.h"

/* Settings given in the current rule's group (for the checks that follow it). */
#define RP_G_ID         (1u << 0)
#define RP_G_ACTION     (1u << 1)
#define RP_G_PROTOCOLS  (1u << 2)
#define RP_G_RESOURCES  (1u << 3)
#define RP_G_TARGET     (1u << 4)
#define RP_G_PATTERNS   (1u << 5)
#define RP_G_UNLESS     (1u << 6)
#define RP_G_COLUMNS    (1u << 7)
#define RP_G_VALIDATOR  (1u << 8)
#define RP_G_MASK       (1u << 9)
#define RP_G_MESSAGE    (1u << 10)
#define RP_G_ENABLED    (1u << 11)
#define RP_G_NOCASE     (1u << 12)
#define RP_G_DIGITS     (1u << 13)
#define RP_G_UPPER      (1u << 14)

/* State of one rule_parse_text() call. */
struct rp_ctx {
	struct rule_set *rs;         /* being filled */
	const struct dp_config *res; /* resource names, or NULL */
	const char *file;            /* the file being read, first in every error */
	unsigned rule_no;            /* 1-based position of the rule in its file */
	unsigned given;              /* RP_G_* of the current rule */
	unsigned gline[16];          /* line of each given setting, by RP_G_* bit number */
	const char *text;            /* the file's bytes, and where each line starts */
	uint32_t *lines;
	unsigned n_lines;
	char *err;
	size_t errlen;
};

typedef int (*rp_set_pt)(struct rp_ctx *x, struct rule *r, const config_setting_t *s);

/* One row of the settings table of a rule. */
struct rp_dir {
	const char *name;
	unsigned bit;                /* RP_G_* */
	rp_set_pt set;
};

static int rp_set_id(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_action(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_protocols(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_resources(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_target(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_patterns(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_unless(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_columns(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_validator(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_mask(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_message(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_enabled(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_nocase(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_min_digits(struct rp_ctx *x, struct rule *r, const config_setting_t *s);
static int rp_set_min_upper(struct rp_ctx *x, struct rule *r, const config_setting_t *s);

static const struct rp_dir rp_rule_dirs[] = {
	{ "id",        RP_G_ID,        rp_set_id },
	{ "action",    RP_G_ACTION,    rp_set_action },
	{ "protocols", RP_G_PROTOCOLS, rp_set_protocols },
	{ "resources", RP_G_RESOURCES, rp_set_resources },
	{ "target",    RP_G_TARGET,    rp_set_target },
	{ "patterns",  RP_G_PATTERNS,  rp_set_patterns },
	{ "unless",    RP_G_UNLESS,    rp_set_unless },
	{ "columns",   RP_G_COLUMNS,   rp_set_columns },
	{ "validator", RP_G_VALIDATOR, rp_set_validator },
	{ "mask",      RP_G_MASK,      rp_set_mask },
	{ "message",   RP_G_MESSAGE,   rp_set_message },
	{ "enabled",   RP_G_ENABLED,   rp_set_enabled },
	{ "nocase",    RP_G_NOCASE,    rp_set_nocase },
	{ "min_digits", RP_G_DIGITS,   rp_set_min_digits },
	{ "min_upper", RP_G_UPPER,     rp_set_min_upper },
};
#define RP_N_DIRS (sizeof(rp_rule_dirs) / sizeof(rp_rule_dirs[0]))

static const char *const rp_mask_keys[] = { "keep_first", "keep_last", "char", "preserve_class" };

/* Action names in files; "allow" is not one (it never wins over anything). */
static const struct {
	const char *name;
	enum rule_action action;
} rp_actions[] = {
	{ "alert", RULE_ALERT }, { "mask", RULE_MASK }, { "review", RULE_REVIEW },
	{ "block", RULE_BLOCK }, { "reset", RULE_RESET },
};

static const char *const rp_targets[RULE_T__MAX] = {
	[RULE_T_STATEMENT] = "statement", [RULE_T_FINGERPRINT] = "fingerprint",
	[RULE_T_RAW] = "raw", [RULE_T_FIELD] = "field", [RULE_T_COLUMN] = "column",
};

/* Protocol names in files; several names may map to one decoder. */
static const struct {
	const char *name;
	enum dp_proto_id id;
} rp_protos[] = {
	{ "postgresql", DP_PROTO_PG }, { "pg", DP_PROTO_PG }, { "mysql", DP_PROTO_MYSQL },
	{ "redis", DP_PROTO_REDIS }, { "http", DP_PROTO_HTTP }, { "test", DP_PROTO_TEST },
};

/* Every protocol with a decoder: the default of "protocols". */
#define RP_ALL_PROTOS  ((uint16_t)((1u << DP_PROTO_PG) | (1u << DP_PROTO_MYSQL) | \
	(1u << DP_PROTO_REDIS) | (1u << DP_PROTO_HTTP) | (1u << DP_PROTO_TEST)))

/* ---- errors ---------------------------------------------------------------------- */

/* Writes "FILE:LINE: rule ID: <fmt>" (no LINE when 0, no rule when <r> is NULL) into
 * the error buffer. Returns -1. */
static int rp_err(struct rp_ctx *x, const struct rule *r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int rp_err(struct rp_ctx *x, const struct rule *r, unsigned line, const char *fmt, ...)
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

static unsigned rp_line(const config_setting_t *s)
{
	return s != NULL ? config_setting_source_line(s) : 0;
}

/* Edit distance of two short names (for "did you mean"). */
static unsigned rp_distance(const char *a, const char *b)
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
static const char *rp_suggest(const char *name, const void *base, size_t stride, size_t n)
{
	const char *best = NULL;
	unsigned bd = 3;

	for (size_t i = 0; i < n; i++) {
		const char *known = *(const char *const *)(const void *)((const char *)base + i * stride);
		unsigned d = rp_distance(name, known);

		if (d < bd) {
			bd = d;
			best = known;
		}
	}
	return best;
}

/* ---- value readers ----------------------------------------------------------------- */

static int rp_string(struct rp_ctx *x, struct rule *r, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return rp_err(x, r, rp_line(s), "%s: must be a string", config_setting_name(s));
	*out = config_setting_get_string(s);
	return 0;
}

static int rp_bool(struct rp_ctx *x, struct rule *r, const config_setting_t *s, uint8_t *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return rp_err(x, r, rp_line(s), "%s: must be true or false", config_setting_name(s));
	*out = (uint8_t)config_setting_get_bool(s);
	return 0;
}

/* Writes <v> as libconfig would need it written in a file (escapes) into <out>;
 * returns its length, or 0 if it does not fit. */
static size_t rp_escape(const char *v, char *out, size_t cap)
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
static unsigned rp_elem_line(struct rp_ctx *x, const config_setting_t *s,
			     const config_setting_t *e, const char *v)
{
	unsigned line = rp_line(e), first = rp_line(s);
	char esc[RULE_PATTERN_MAX * 4 + 3];
	size_t n;

	if (x->text == NULL || line == 0 || line > x->n_lines || first > line)
		return line;
	esc[0] = '"';
	if ((n = rp_escape(v, esc + 1, sizeof(esc) - 2)) == 0)
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
 * <each> gets the element, whose line errors should name via rp_elem_line(). */
typedef int (*rp_each_pt)(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line);

static int rp_strings(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
		      unsigned max, rp_each_pt each)
{
	const char *name = config_setting_name(s);
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return each(x, r, s, config_setting_get_string(s), rp_line(s));
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return rp_err(x, r, rp_line(s), "%s: must be a string or an array of strings", name);
	n = config_setting_length(s);
	if (n == 0)
		return rp_err(x, r, rp_line(s), "%s: must not be empty", name);
	if ((unsigned)n > max)
		return rp_err(x, r, rp_line(s), "%s: at most %u entries", name, max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return rp_err(x, r, rp_line(e), "%s: must be a string or an array of strings",
				      name);
		if (each(x, r, e, config_setting_get_string(e),
			 rp_elem_line(x, s, e, config_setting_get_string(e))) < 0)
			return -1;
	}
	return 0;
}

/* ---- setters ----------------------------------------------------------------------- */

static int rp_set_id(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	size_t n;

	if (rp_string(x, r, s, &v) < 0)
		return -1;
	n = strlen(v);
	if (n == 0 || n >= RULE_ID_MAX)
		return rp_err(x, r, rp_line(s), "id: must be 1 to %d characters", RULE_ID_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) ||
		      v[i] == '.' || v[i] == '_' || v[i] == '-'))
			return rp_err(x, r, rp_line(s),
				      "id \"%s\": only a-z, 0-9, '.', '_' and '-' are allowed", v);
	memcpy(r->id, v, n + 1);
	return 0;
}

static int rp_set_action(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;

	if (rp_string(x, r, s, &v) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(rp_actions) / sizeof(rp_actions[0]); i++)
		if (strcmp(v, rp_actions[i].name) == 0) {
			r->action = (uint8_t)rp_actions[i].action;
			return 0;
		}
	return rp_err(x, r, rp_line(s),
		      "action \"%s\": must be one of block, mask, reset, alert, review", v);
}

static int rp_each_proto(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			 const char *v, unsigned line)
{
	for (size_t k = 0; k < sizeof(rp_protos) / sizeof(rp_protos[0]); k++)
		if (strcmp(v, rp_protos[k].name) == 0) {
			r->protos |= (uint16_t)(1u << rp_protos[k].id);
			return 0;
		}
	return rp_err(x, r, line,
		      "protocols: unknown protocol \"%s\" (postgresql, pg, mysql, redis, http)", v);
}

static int rp_set_protocols(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	r->protos = 0;
	return rp_strings(x, r, s, 16, rp_each_proto);
}

static int rp_each_resource(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			    const char *v, unsigned line)
{
	if (strcmp(v, "*") == 0) {
		r->all_res = 1;
		return 0;
	}
	if (x->res == NULL)
		return rp_err(x, r, line, "resources: unknown resource \"%s\" "
			      "(no resources are configured here; use \"*\")", v);
	for (unsigned k = 0; k < x->res->n_resources && k < DP_MAX_RESOURCES; k++)
		if (strcmp(v, x->res->resources[k].name) == 0) {
			r->res[k / 64] |= 1ull << (k % 64);
			return 0;
		}
	return rp_err(x, r, line, "resources: unknown resource \"%s\"", v);
}

static int rp_set_resources(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	r->all_res = 0;
	return rp_strings(x, r, s, DP_MAX_RESOURCES, rp_each_resource);
}

static int rp_set_target(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;

	if (rp_string(x, r, s, &v) < 0)
		return -1;
	for (unsigned i = 0; i < RULE_T__MAX; i++)
		if (strcmp(v, rp_targets[i]) == 0) {
			r->target = (uint8_t)i;
			return 0;
		}
	return rp_err(x, r, rp_line(s),
		      "target \"%s\": must be one of statement, fingerprint, raw, field, column", v);
}

/* Appends pattern <v> to <*list>/<*n> (already sized by the caller). */
static int rp_pattern(struct rp_ctx *x, struct rule *r, unsigned line, const char *v,
		      struct rule_pattern *list, uint16_t *n, const char *what)
{
	size_t len = strlen(v);

	if (len == 0)
		return rp_err(x, r, line, "%s: a pattern must not be empty", what);
	if (len >= RULE_PATTERN_MAX)
		return rp_err(x, r, line, "%s: a pattern is longer than %d bytes", what,
			      RULE_PATTERN_MAX - 1);
	if ((list[*n].re = strdup(v)) == NULL)
		return rp_err(x, r, line, "out of memory");
	list[*n].line = line;
	(*n)++;
	return 0;
}

static int rp_each_pattern(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			   const char *v, unsigned line)
{
	return rp_pattern(x, r, line, v, r->pats, &r->n_pats, "patterns");
}

static int rp_each_unless(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line)
{
	return rp_pattern(x, r, line, v, r->unless, &r->n_unless, "unless");
}

static int rp_set_patterns(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->pats = calloc(RULE_MAX_PATTERNS, sizeof(*r->pats))) == NULL)
		return rp_err(x, r, rp_line(s), "out of memory");
	return rp_strings(x, r, s, RULE_MAX_PATTERNS, rp_each_pattern);
}

static int rp_set_unless(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->unless = calloc(RULE_MAX_PATTERNS, sizeof(*r->unless))) == NULL)
		return rp_err(x, r, rp_line(s), "out of memory");
	return rp_strings(x, r, s, RULE_MAX_PATTERNS, rp_each_unless);
}

static int rp_each_column(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
			  const char *v, unsigned line)
{
	if (v[0] == '\0' || strlen(v) >= DP_NAME_MAX * 4)
		return rp_err(x, r, line, "columns: a name must be 1 to %d bytes",
			      DP_NAME_MAX * 4 - 1);
	if ((r->cols[r->n_cols] = strdup(v)) == NULL)
		return rp_err(x, r, line, "out of memory");
	r->n_cols++;
	return 0;
}

static int rp_set_columns(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	if ((r->cols = calloc(RULE_MAX_COLUMNS, sizeof(*r->cols))) == NULL)
		return rp_err(x, r, rp_line(s), "out of memory");
	return rp_strings(x, r, s, RULE_MAX_COLUMNS, rp_each_column);
}

static int rp_set_validator(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	char names[128];
	int id;

	if (rp_string(x, r, s, &v) < 0)
		return -1;
	if ((id = rule_val_lookup(v)) < 0)
		return rp_err(x, r, rp_line(s), "validator \"%s\": unknown (known: %s)", v,
			      rule_val_names(names, sizeof(names)));
	r->validator = (uint8_t)id;
	return 0;
}

/* Reads the integer <s> in [0, <max>] into *<out>; errors name the setting after
 * <prefix> ("mask." for a member of mask, else ""). */
static int rp_count(struct rp_ctx *x, struct rule *r, const config_setting_t *s,
		    const char *prefix, long long max, uint16_t *out)
{
	const char *name = config_setting_name(s);
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return rp_err(x, r, rp_line(s), "%s%s: must be an integer", prefix, name);
	v = config_setting_get_int64(s);
	if (v < 0 || v > max)
		return rp_err(x, r, rp_line(s), "%s%s: must be between 0 and %lld", prefix, name, max);
	*out = (uint16_t)v;
	return 0;
}

static int rp_set_mask(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return rp_err(x, r, rp_line(s), "mask: must be a group { keep_first = ...; }");
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e), *v = NULL, *near;

		if (strcmp(name, "keep_first") == 0) {
			if (rp_count(x, r, e, "mask.", RULE_KEEP_MAX, &r->mask.keep_first) < 0)
				return -1;
		} else if (strcmp(name, "keep_last") == 0) {
			if (rp_count(x, r, e, "mask.", RULE_KEEP_MAX, &r->mask.keep_last) < 0)
				return -1;
		} else if (strcmp(name, "char") == 0) {
			if (rp_string(x, r, e, &v) < 0)
				return -1;
			if (strlen(v) != 1 || v[0] < 0x20 || v[0] > 0x7e)
				return rp_err(x, r, rp_line(e),
					      "mask.char: must be one printable ASCII character");
			r->mask.ch = (uint8_t)v[0];
		} else if (strcmp(name, "preserve_class") == 0) {
			if (rp_bool(x, r, e, &r->mask.preserve_class) < 0)
				return -1;
		} else {
			near = rp_suggest(name, rp_mask_keys, sizeof(rp_mask_keys[0]),
					  sizeof(rp_mask_keys) / sizeof(rp_mask_keys[0]));
			return rp_err(x, r, rp_line(e), "mask: unknown setting \"%s\"%s%s%s", name,
				      near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
		}
	}
	return 0;
}

static int rp_set_message(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	const char *v = NULL;
	size_t n;

	if (rp_string(x, r, s, &v) < 0)
		return -1;
	n = strlen(v);
	if (n == 0 || n >= RULE_MESSAGE_MAX)
		return rp_err(x, r, rp_line(s), "message: must be 1 to %d characters",
			      RULE_MESSAGE_MAX - 1);
	/* the message goes into protocol replies (Redis "-ERR ...\r\n", HTTP bodies):
	 * a control character could end the reply early */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return rp_err(x, r, rp_line(s), "message: control characters are not allowed");
	free(r->message);
	if ((r->message = strdup(v)) == NULL)
		return rp_err(x, r, rp_line(s), "out of memory");
	return 0;
}

static int rp_set_enabled(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	return rp_bool(x, r, s, &r->enabled);
}

static int rp_set_nocase(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	return rp_bool(x, r, s, &r->nocase);
}

static int rp_set_min_digits(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	return rp_count(x, r, s, "", RULE_DIGITS_MAX, &r->min_digits);
}

static int rp_set_min_upper(struct rp_ctx *x, struct rule *r, const config_setting_t *s)
{
	return rp_count(x, r, s, "", RULE_UPPER_MAX, &r->min_upper);
}

/* ---- one rule ------------------------------------------------------------------------ */

/* The line of setting <bit> (RP_G_*) of the current rule, or <dflt> if not given. */
static unsigned rp_gl(const struct rp_ctx *x, unsigned bit, unsigned dflt)
{
	return (x->given & bit) ? x->gline[__builtin_ctz(bit)] : dflt;
}

/* Checks that involve several settings, and fills in the defaults. An error names the
 * line of the setting that is out of place, or the rule's when one is missing. */
static int rp_finish(struct rp_ctx *x, struct rule *r, const config_setting_t *grp)
{
	unsigned g = x->given, line = rp_line(grp);
	unsigned tline = rp_gl(x, RP_G_TARGET, rp_gl(x, RP_G_ACTION, line));
	int cmd;

	if (!(g & RP_G_ID))
		return rp_err(x, r, line, "missing setting \"id\"");
	if (!(g & RP_G_ACTION))
		return rp_err(x, r, line, "missing setting \"action\"");
	if (!(g & RP_G_TARGET)) {
		if (r->action != RULE_MASK)
			r->target = RULE_T_STATEMENT;
		else if ((g & RP_G_COLUMNS) && !(g & RP_G_PATTERNS))
			r->target = RULE_T_COLUMN;
		else
			r->target = RULE_T_FIELD;
	}
	cmd = r->target <= RULE_T_RAW;
	if (r->action == RULE_MASK && cmd)
		return rp_err(x, r, tline, "action mask needs target field or column, not %s "
			      "(a statement cannot be masked)", rp_targets[r->target]);
	if (r->action != RULE_MASK && !cmd)
		return rp_err(x, r, tline, "target %s is for mask rules (action = \"mask\")",
			      rp_targets[r->target]);
	if (r->target == RULE_T_COLUMN) {
		if (!(g & RP_G_COLUMNS))
			return rp_err(x, r, line, "target column needs \"columns\"");
		if (g & RP_G_PATTERNS)
			return rp_err(x, r, rp_gl(x, RP_G_PATTERNS, line), "\"patterns\" cannot be used with target column "
				      "(it masks whole fields by column name)");
		if (g & RP_G_VALIDATOR)
			return rp_err(x, r, rp_gl(x, RP_G_VALIDATOR, line),
				      "\"validator\" cannot be used with target column");
		if (g & RP_G_NOCASE)
			return rp_err(x, r, rp_gl(x, RP_G_NOCASE, line), "\"nocase\" cannot be used with target column "
				      "(column names are always compared without case)");
	} else {
		if (!(g & RP_G_PATTERNS))
			return rp_err(x, r, line, "missing setting \"patterns\"");
		if (g & RP_G_COLUMNS)
			return rp_err(x, r, rp_gl(x, RP_G_COLUMNS, line), "\"columns\" is only for target column");
	}
	if ((g & RP_G_DIGITS) && r->target != RULE_T_FIELD)
		return rp_err(x, r, rp_gl(x, RP_G_DIGITS, line), "\"min_digits\" is only for target field");
	if ((g & RP_G_UPPER) && r->target != RULE_T_FIELD)
		return rp_err(x, r, rp_gl(x, RP_G_UPPER, line), "\"min_upper\" is only for target field");
	if ((g & RP_G_VALIDATOR) && r->target != RULE_T_FIELD)
		return rp_err(x, r, rp_gl(x, RP_G_VALIDATOR, line), "\"validator\" is only for target field");
	if ((g & RP_G_UNLESS) && !cmd)
		return rp_err(x, r, rp_gl(x, RP_G_UNLESS, line), "\"unless\" is only for targets statement, fingerprint "
			      "and raw");
	if ((g & RP_G_MASK) && r->action != RULE_MASK)
		return rp_err(x, r, rp_gl(x, RP_G_MASK, line), "\"mask\" needs action mask");
	if (!(g & RP_G_NOCASE))
		r->nocase = r->target != RULE_T_FIELD;
	/* a caseless pattern matches lower case too: the promise could not be kept */
	if (r->min_upper > 0 && r->nocase)
		return rp_err(x, r, rp_gl(x, RP_G_UPPER, line), "\"min_upper\" cannot be kept by a "
			      "nocase rule (its patterns match lower case too)");
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
			return rp_err(x, r, line, "out of memory");
	}
	if (r->n_unless > 0)
		r->unless_slot = (int32_t)x->rs->n_unless++;
	return 0;
}

/* Whether an earlier rule has <r>'s id; returns it or NULL. */
static const struct rule *rp_dup(const struct rule_set *rs, const struct rule *r)
{
	for (const struct rule *o = rs->rules; o < r; o++)
		if (strcmp(o->id, r->id) == 0)
			return o;
	return NULL;
}

/* Reads the rule in group <grp> into <r> (zeroed by the caller). */
static int rp_rule(struct rp_ctx *x, struct rule *r, const config_setting_t *grp)
{
	const config_setting_t *id;
	const struct rule *o;

	r->enabled = 1;
	r->all_res = 1;
	r->protos = RP_ALL_PROTOS;
	r->unless_slot = -1;
	r->mask.preserve_class = 1;
	x->given = 0;
	if (config_setting_type(grp) != CONFIG_TYPE_GROUP)
		return rp_err(x, r, rp_line(grp), "each rule must be a group { id = ...; ... }");
	/* the id first, so that every later error can name the rule */
	if ((id = config_setting_get_member(grp, "id")) != NULL && rp_set_id(x, r, id) < 0)
		return -1;
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s), *near;
		size_t k;

		for (k = 0; k < RP_N_DIRS; k++)
			if (strcmp(name, rp_rule_dirs[k].name) == 0)
				break;
		if (k == RP_N_DIRS) {
			near = rp_suggest(name, rp_rule_dirs, sizeof(rp_rule_dirs[0]), RP_N_DIRS);
			return rp_err(x, r, rp_line(s), "unknown setting \"%s\"%s%s%s", name,
				      near ? " (did you mean \"" : "", near ? near : "",
				      near ? "\"?)" : "");
		}
		x->given |= rp_rule_dirs[k].bit;
		x->gline[__builtin_ctz(rp_rule_dirs[k].bit)] = rp_line(s);
		if (s != id && rp_rule_dirs[k].set(x, r, s) < 0)
			return -1;
	}
	if (rp_finish(x, r, grp) < 0)
		return -1;
	if ((o = rp_dup(x->rs, r)) != NULL)
		return rp_err(x, r, rp_line(grp), "duplicate id (first defined at %s:%u)", o->file,
			      o->line);
	return 0;
}

/* ---- a file ------------------------------------------------------------------------ */

/* Refuses NUL bytes (libconfig would stop there unseen) and @include (the set's hash,
 * which keys the cache, covers the named files only). */
static int rp_prescan(struct rp_ctx *x, const char *text, size_t len)
{
	unsigned line = 1;
	int bol = 1;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\0')
			return rp_err(x, NULL, line, "contains a NUL byte");
		if (bol && strncmp(text + i, "@include", 8) == 0)
			return rp_err(x, NULL, line, "@include is not supported: name every rule "
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

/* Notes where each line of <text> starts (for rp_elem_line()). */
static int rp_lines(struct rp_ctx *x, const char *text)
{
	unsigned n = 1;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	if ((x->lines = malloc(n * sizeof(uint32_t))) == NULL)
		return rp_err(x, NULL, 0, "out of memory");
	x->n_lines = 0;
	x->lines[x->n_lines++] = 0;
	for (const char *p = text; *p; p++)
		if (*p == '\n' && x->n_lines < n)
			x->lines[x->n_lines++] = (uint32_t)(p + 1 - text);
	x->text = text;
	return 0;
}

/* Parses <text> and appends its rules to x->rs. */
static int rp_parse(struct rp_ctx *x, const char *text, unsigned file_idx)
{
	struct rule_set *rs = x->rs;
	const config_setting_t *root, *list;
	config_t cf;
	int rc = -1, n;

	config_init(&cf);
	if (config_read_string(&cf, text) != CONFIG_TRUE) {
		rp_err(x, NULL, (unsigned)config_error_line(&cf), "%s", config_error_text(&cf));
		goto out;
	}
	if (rp_lines(x, text) < 0)
		goto out;
	root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);

		if (strcmp(config_setting_name(s), "rules") != 0) {
			rp_err(x, NULL, rp_line(s), "unknown setting \"%s\" (a rule file has one "
			       "setting: rules = ( ... );)", config_setting_name(s));
			goto out;
		}
	}
	if ((list = config_setting_get_member(root, "rules")) == NULL) {
		rp_err(x, NULL, 0, "missing setting \"rules\" (rules = ( { id = ...; }, ... );)");
		goto out;
	}
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0)) {
		rp_err(x, NULL, rp_line(list), "rules: must be a list ( { ... }, { ... } )");
		goto out;
	}
	n = config_setting_length(list);
	if (rs->n_rules + (unsigned)n > RULE_MAX_RULES) {
		rp_err(x, NULL, rp_line(list), "rules: more than %d rules in all", RULE_MAX_RULES);
		goto out;
	}
	if (n > 0) {
		struct rule *nr = realloc(rs->rules, (rs->n_rules + (unsigned)n) * sizeof(*nr));

		if (nr == NULL) {
			rp_err(x, NULL, 0, "out of memory");
			goto out;
		}
		rs->rules = nr;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct rule *r = &rs->rules[rs->n_rules];

		memset(r, 0, sizeof(*r));
		r->file = rs->files[file_idx];
		r->line = rp_line(g);
		x->rule_no = (unsigned)i + 1;
		rs->n_rules++;          /* counted at once: rule_set_free() frees it on error */
		if (rp_rule(x, r, g) < 0)
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


int rule_parse_text(struct rule_set *rs, const struct dp_config *res, const char *file,
		    unsigned file_idx, const char *text, size_t len, char *err, size_t errlen)
{
	struct rp_ctx x = { .rs = rs, .res = res, .file = file, .err = err, .errlen = errlen };

	if (rp_prescan(&x, text, len) < 0)
		return -1;
	return rp_parse(&x, text, file_idx);
}
