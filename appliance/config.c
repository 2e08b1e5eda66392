/* config.c - the appliance's configuration loader: one libconfig file, one table of settings.
 *
 * Every plain setting is a row of cfg_root_dirs[] (path, type, range, field); one generic
 * walker visits every setting in the file, finds its row or rejects it as unknown, and
 * stores it. The lists (eal.args, ports, pairs, resources) have small setters of their
 * own whose items are walked with the same walker and their own tables. Checks that
 * involve several settings (pairs against ports, mbufs against rings) run last.
 * Every error is one line: "FILE:LINE: SETTING: problem".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <rte_config.h>

#include "appliance/config.h"
#include "dataplane/port.h"
#include "dataplane/policy-t.h"

#define CFG_DEF_DESC       1024           /* rx_desc and tx_desc of a port */
#define CFG_DEF_MTU        1500           /* mtu of a port */
#define CFG_FILE_MAX       (4u << 20)     /* bytes: a larger file is surely not a config */
#define CFG_LINES_MAX      65535          /* libconfig keeps line numbers in 16 bits */
#define CFG_SETPATH_MAX    128            /* "resources[255].protocol" and the like */
#define CFG_DEPTH_MAX      16             /* brackets a parse error's path is followed into */
#define CFG_NEAR_MAX       80             /* characters of a line a parse error shows */

enum cfg_type {
	CFG_T_INT,        /* integer, stored in an unsigned field of 1, 2, 4 or 8 bytes */
	CFG_T_SIZE,       /* bytes: an integer or a string "256k", "64m", "1g", "1t" */
	CFG_T_SECONDS,    /* seconds: an integer or a string "90s", "5m", "2h", "1d" */
	CFG_T_BOOL,       /* true or false, stored as 0/1 */
	CFG_T_STRING,     /* non-empty text, stored in a char array of <size> bytes */
	CFG_T_ENUM,       /* one of <names>, stored as its index */
	CFG_T_KEYWORD,    /* one of <names>, stored as text in a char array */
	CFG_T_CUSTOM,     /* handled by <set> */
};

#define CFG_F_REQUIRED 0x1  /* an item of a list must have it */

struct cfg_ctx;
struct cfg_directive;

/* A setter for a setting that is not a plain value; <base> is the table's struct. */
typedef int (*cfg_set_pt)(struct cfg_ctx *x, const config_setting_t *s, void *base);

/* One row of a settings table. */
struct cfg_directive {
	const char *path;            /* dotted path from the table's base ("workers.count") */
	enum cfg_type type;          /* how the value is read */
	unsigned flags;              /* CFG_F_* */
	int64_t min, max;            /* inclusive range of numbers */
	const char *unit;            /* unit named in range errors, or NULL */
	size_t off, size;            /* field in the base struct */
	const char *const *names;    /* ENUM and KEYWORD: allowed values, NULL-terminated */
	cfg_set_pt set;              /* CUSTOM: the setter */
};

/* A table: the rows for one struct (the whole config, a port, a pair, a resource). */
struct cfg_table {
	const struct cfg_directive *dirs;
	size_t n;                    /* at most 64 rows (the walker's seen-mask) */
};

/* A pair as written, resolved against ports[] once the whole file has been read. */
struct cfg_pair_names {
	char client[DP_NAME_MAX];
	char server[DP_NAME_MAX];
};

/* State of one cfg_load() call; the setting pointers live until config_destroy(). */
struct cfg_ctx {
	struct cfg *c;               /* being filled */
	const char *file;            /* as given to cfg_load(), first in every error */
	char *err;                   /* where the one error line goes */
	size_t errlen;
	config_t *cf;                /* the parsed file */
	const config_setting_t *ports_set[DP_MAX_PORTS];   /* each port's group */
	const config_setting_t *pairs_list;                /* "pairs", or NULL */
	const config_setting_t *pairs_set[CFG_MAX_PAIRS];  /* each pair's group */
	struct cfg_pair_names pair_names[CFG_MAX_PAIRS];
};

/* A unit suffix of a size or a duration written as a string. */
struct cfg_unit {
	char suffix;                 /* lower case; upper case is accepted too */
	uint64_t mult;
};

static int cfg_set_eal_args(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_rule_files(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_rule_cache(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_ports(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_pairs(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_resources(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_address(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_protocol(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_tokens(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_unique(struct cfg_ctx *x, const config_setting_t *list, int i, const char *key,
		      const char *what, bool dev);
static int cfg_set_token_role(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_token_hash(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_path(struct cfg_ctx *x, const config_setting_t *s, char *out, size_t cap);
static int cfg_set_rec_dir(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_mgmt_listen(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_mgmt_state(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_mgmt_cert(struct cfg_ctx *x, const config_setting_t *s, void *base);
static int cfg_set_mgmt_key(struct cfg_ctx *x, const config_setting_t *s, void *base);

/* ---- the tables ---------------------------------------------------------------- */

static const char *const cfg_poll_names[] = {
	[CFG_POLL_BUSY] = "busy", [CFG_POLL_ADAPTIVE] = "adaptive", NULL };
static const char *const cfg_spread_names[] = {
	[CFG_SPREAD_AUTO] = "auto", [CFG_SPREAD_SOFTWARE] = "software", NULL };
static const char *const cfg_overload_names[] = {
	[DP_OVERLOAD_FAIL_CLOSED] = "fail_closed", [DP_OVERLOAD_FAIL_OPEN] = "fail_open", NULL };
static const char *const cfg_frag_names[] = {
	[DP_FRAG_DROP] = "drop", [DP_FRAG_REASSEMBLE] = "reassemble", NULL };
static const char *const cfg_hold_names[] = {
	[DP_HOLD_STREAM] = "stream", [DP_HOLD_RESET] = "reset", NULL };
static const char *const cfg_unjudged_names[] = {
	[DP_UNJUDGED_BLOCK] = "block", [DP_UNJUDGED_RESET] = "reset",
	[DP_UNJUDGED_FORWARD] = "forward", NULL };
static const char *const cfg_malformed_names[] = {
	[DP_MALFORMED_RESET] = "reset", [DP_MALFORMED_FORWARD] = "forward", NULL };
static const char *const cfg_overlap_names[] = {
	[DP_OVERLAP_REWRITE] = "rewrite", [DP_OVERLAP_RESET] = "reset", NULL };
static const char *const cfg_midstream_names[] = {
	[DP_MIDSTREAM_BYPASS] = "bypass", [DP_MIDSTREAM_DROP] = "drop", NULL };
static const char *const cfg_tls_names[] = {
	[DP_TLS_REFUSE] = "refuse", [DP_TLS_PASSTHROUGH] = "passthrough", NULL };
static const char *const cfg_replication_names[] = {
	[DP_REPLICATION_REFUSE] = "refuse", [DP_REPLICATION_ALLOW] = "allow", NULL };
static const char *const cfg_record_names[] = {
	[DP_RECORD_BEST_EFFORT] = "best_effort", [DP_RECORD_MUST] = "must_record", NULL };
static const char *const cfg_text_names[] = { "normalized", "raw", NULL };
static const char *const cfg_log_names[] = { "debug", "info", "warn", "error", NULL };

/* Protocol names of resources; several names may map to one decoder. */
static const struct {
	const char *name;
	enum dp_proto_id id;
} cfg_protos[] = {
	{ "postgresql", DP_PROTO_PG },
	{ "pg",         DP_PROTO_PG },
	{ "mysql",      DP_PROTO_MYSQL },
	{ "redis",      DP_PROTO_REDIS },
	{ "http",       DP_PROTO_HTTP },
	{ "tcp",        DP_PROTO_NONE },
};

#define CFG_FIELD(T, f)  .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define CFG_NUM(p, t, T, f, lo, hi, u) \
	{ .path = (p), .type = (t), .min = (lo), .max = (hi), .unit = (u), CFG_FIELD(T, f) }
#define CFG_NAMES(p, t, T, f, nm)  { .path = (p), .type = (t), .names = (nm), CFG_FIELD(T, f) }
#define CFG_BOOL(p, T, f)          { .path = (p), .type = CFG_T_BOOL, CFG_FIELD(T, f) }
#define CFG_STR(p, fl, T, f)       { .path = (p), .type = CFG_T_STRING, .flags = (fl), CFG_FIELD(T, f) }
#define CFG_CUSTOM(p, fl, fn)      { .path = (p), .type = CFG_T_CUSTOM, .flags = (fl), .set = (fn) }

/* The whole file. Ranges and defaults are documented in appliance/tollgate.conf. */
static const struct cfg_directive cfg_root_dirs[] = {
	CFG_CUSTOM("eal.args", 0, cfg_set_eal_args),
	CFG_CUSTOM("ports", 0, cfg_set_ports),
	CFG_CUSTOM("pairs", 0, cfg_set_pairs),
	CFG_NUM("workers.count", CFG_T_INT, struct cfg, n_workers, 1, DP_MAX_WORKERS, NULL),
	CFG_NAMES("workers.poll", CFG_T_ENUM, struct cfg, poll, cfg_poll_names),
	CFG_NAMES("workers.spread", CFG_T_ENUM, struct cfg, spread, cfg_spread_names),
	CFG_NUM("workers.poll_idle_us", CFG_T_INT, struct cfg, poll_idle_us, 1, 100000, "microseconds"),
	CFG_NUM("workers.poll_deep_idle_us", CFG_T_INT, struct cfg, poll_deep_idle_us, 1, 100000,
		"microseconds"),
	CFG_NUM("workers.poll_deep_after_ms", CFG_T_INT, struct cfg, poll_deep_after_ms, 0, 3600000,
		"milliseconds"),
	CFG_NUM("workers.mbufs", CFG_T_INT, struct cfg, mbufs, 1023, 16777215, NULL),
	CFG_NUM("dataplane.flow_capacity", CFG_T_INT, struct cfg, dp.flow_capacity,
		1024, 16777216, NULL),
	CFG_NUM("dataplane.idle_timeout", CFG_T_SECONDS, struct cfg, dp.idle_timeout_s,
		1, 604800, "seconds"),
	CFG_NUM("dataplane.closed_timeout", CFG_T_SECONDS, struct cfg, dp.closed_timeout_s,
		1, 3600, "seconds"),
	CFG_NUM("dataplane.max_hold_bytes", CFG_T_SIZE, struct cfg, dp.max_hold_bytes,
		4096, 64ll << 20, "bytes"),
	CFG_NUM("dataplane.ooo_max_segs", CFG_T_INT, struct cfg, dp.ooo_max_segs, 1, 4096, NULL),
	CFG_NUM("dataplane.stream_memcap", CFG_T_SIZE, struct cfg, dp.stream_memcap,
		1ll << 20, 1ll << 40, "bytes"),
	CFG_NUM("dataplane.rto_ms", CFG_T_INT, struct cfg, dp.rto_ms, 10, 60000, "milliseconds"),
	CFG_NAMES("dataplane.overload", CFG_T_ENUM, struct cfg, dp.overload, cfg_overload_names),
	CFG_NAMES("dataplane.fragments", CFG_T_ENUM, struct cfg, dp.frag, cfg_frag_names),
	CFG_NAMES("dataplane.hold_overflow", CFG_T_ENUM, struct cfg, dp.hold, cfg_hold_names),
	CFG_NAMES("dataplane.unjudged", CFG_T_ENUM, struct cfg, dp.unjudged, cfg_unjudged_names),
	CFG_NAMES("dataplane.malformed", CFG_T_ENUM, struct cfg, dp.malformed, cfg_malformed_names),
	CFG_NAMES("dataplane.overlap", CFG_T_ENUM, struct cfg, dp.overlap, cfg_overlap_names),
	CFG_NAMES("dataplane.midstream", CFG_T_ENUM, struct cfg, dp.midstream, cfg_midstream_names),
	CFG_BOOL("dataplane.verify_checksums", struct cfg, dp.verify_cksum),
	CFG_NAMES("dataplane.tls", CFG_T_ENUM, struct cfg, dp.tls, cfg_tls_names),
	CFG_NAMES("dataplane.replication", CFG_T_ENUM, struct cfg, dp.replication,
		  cfg_replication_names),
	CFG_CUSTOM("resources", 0, cfg_set_resources),
	CFG_CUSTOM("rules.files", 0, cfg_set_rule_files),
	CFG_CUSTOM("rules.cache_dir", 0, cfg_set_rule_cache),
	CFG_CUSTOM("recorder.dir", 0, cfg_set_rec_dir),
	CFG_NUM("recorder.map_size", CFG_T_SIZE, struct cfg, rec_map_size, 1ll << 20, 1ll << 40, "bytes"),
	CFG_NUM("recorder.ring_size", CFG_T_INT, struct cfg, rec_ring_size, 1024, 1 << 20, NULL),
	CFG_NUM("recorder.batch_ms", CFG_T_INT, struct cfg, rec_batch_ms, 1, 1000, "milliseconds"),
	CFG_BOOL("recorder.mask_statements", struct cfg, rec_mask_statements),
	CFG_NUM("recorder.retention_age", CFG_T_SECONDS, struct cfg, rec_max_age_s, 0, 3650 * 86400, "seconds"),
	CFG_NUM("recorder.retention_size", CFG_T_SIZE, struct cfg, rec_max_bytes, 0, 1ll << 40, "bytes"),
	CFG_NAMES("recorder.policy", CFG_T_ENUM, struct cfg, dp.record, cfg_record_names),
	CFG_NAMES("recorder.text", CFG_T_ENUM, struct cfg, dp.record_raw, cfg_text_names),
	CFG_NUM("recorder.result_bytes", CFG_T_SIZE, struct cfg, dp.record_rows, 0, 1ll << 20, "bytes"),
	CFG_CUSTOM("management.listen", 0, cfg_set_mgmt_listen),
	CFG_CUSTOM("management.cert", 0, cfg_set_mgmt_cert),
	CFG_CUSTOM("management.key", 0, cfg_set_mgmt_key),
	CFG_CUSTOM("management.state_dir", 0, cfg_set_mgmt_state),
	CFG_NUM("management.max_body", CFG_T_SIZE, struct cfg, mgmt_max_body, 1024, 64ll << 20, "bytes"),
	CFG_CUSTOM("management.tokens", 0, cfg_set_tokens),
	CFG_NAMES("log.level", CFG_T_KEYWORD, struct cfg, log_level, cfg_log_names),
};

/* One item of "ports". */
static const struct cfg_directive cfg_port_dirs[] = {
	CFG_STR("name", CFG_F_REQUIRED, struct cfg_port, name),
	CFG_STR("dev", CFG_F_REQUIRED, struct cfg_port, dev),
	CFG_NUM("rx_desc", CFG_T_INT, struct cfg_port, rx_desc, 64, 32768, NULL),
	CFG_NUM("tx_desc", CFG_T_INT, struct cfg_port, tx_desc, 64, 32768, NULL),
	CFG_NUM("mtu", CFG_T_INT, struct cfg_port, mtu, 576, 9600, "bytes"),
};

/* One item of "pairs". */
static const struct cfg_directive cfg_pair_dirs[] = {
	CFG_STR("client", CFG_F_REQUIRED, struct cfg_pair_names, client),
	CFG_STR("server", CFG_F_REQUIRED, struct cfg_pair_names, server),
};

/* One item of "resources". */
static const struct cfg_directive cfg_resource_dirs[] = {
	CFG_STR("name", CFG_F_REQUIRED, struct dp_resource, name),
	CFG_CUSTOM("address", CFG_F_REQUIRED, cfg_set_address),
	{ .path = "port", .type = CFG_T_INT, .flags = CFG_F_REQUIRED, .min = 1, .max = 65535,
	  CFG_FIELD(struct dp_resource, port) },
	CFG_CUSTOM("protocol", CFG_F_REQUIRED, cfg_set_protocol),
};

/* One item of "management.tokens". */
static const struct cfg_directive cfg_token_dirs[] = {
	CFG_STR("name", CFG_F_REQUIRED, struct cfg_token, name),
	CFG_CUSTOM("role", CFG_F_REQUIRED, cfg_set_token_role),
	CFG_CUSTOM("sha256", CFG_F_REQUIRED, cfg_set_token_hash),
};

#define CFG_TABLE(a) { .dirs = (a), .n = sizeof(a) / sizeof((a)[0]) }
static const struct cfg_table cfg_token_table = CFG_TABLE(cfg_token_dirs);
static const struct cfg_table cfg_root_table = CFG_TABLE(cfg_root_dirs);
static const struct cfg_table cfg_port_table = CFG_TABLE(cfg_port_dirs);
static const struct cfg_table cfg_pair_table = CFG_TABLE(cfg_pair_dirs);
static const struct cfg_table cfg_resource_table = CFG_TABLE(cfg_resource_dirs);
/* cfg_walk_item() marks the rows it finds in a 64-bit mask */
_Static_assert(sizeof(cfg_root_dirs) / sizeof(cfg_root_dirs[0]) <= 64, "root table over 64 rows");

static const struct cfg_unit cfg_size_units[] = {
	{ 'k', 1ull << 10 }, { 'm', 1ull << 20 }, { 'g', 1ull << 30 }, { 't', 1ull << 40 }, { 0, 0 } };
static const struct cfg_unit cfg_time_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 0, 0 } };

/* ---- defaults ------------------------------------------------------------------ */

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->n_workers = 1;
	c->poll = CFG_POLL_BUSY;
	c->spread = CFG_SPREAD_AUTO;
	c->poll_idle_us = 200;
	c->poll_deep_idle_us = 1000;
	c->poll_deep_after_ms = 1000;
	c->mbufs = 65535;
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->dp.flow_capacity = 65536;
	c->dp.idle_timeout_s = 300;
	c->dp.closed_timeout_s = 10;
	c->dp.max_hold_bytes = 256u << 10;
	c->dp.ooo_max_segs = 64;
	c->dp.stream_memcap = 256ull << 20;
	c->dp.rto_ms = 200;
	c->dp.overload = DP_OVERLOAD_FAIL_CLOSED;
	c->dp.frag = DP_FRAG_DROP;
	c->dp.hold = DP_HOLD_STREAM;
	c->dp.unjudged = DP_UNJUDGED_BLOCK;
	c->dp.malformed = DP_MALFORMED_RESET;
	c->dp.overlap = DP_OVERLAP_REWRITE;
	c->dp.midstream = DP_MIDSTREAM_BYPASS;
	c->dp.verify_cksum = 1;
	c->dp.tls = DP_TLS_REFUSE;
	c->dp.replication = DP_REPLICATION_REFUSE;
	c->dp.record = DP_RECORD_BEST_EFFORT;
	c->rec_map_size = 1ull << 30;
	c->rec_ring_size = 16384;
	c->rec_batch_ms = 50;
	c->rec_mask_statements = 1;
	c->rec_max_age_s = 30 * 86400;
	c->mgmt_max_body = 1u << 20;
}

int cfg_parse_proto(const char *s)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(cfg_protos) / sizeof(cfg_protos[0]); i++)
		if (strcmp(s, cfg_protos[i].name) == 0)
			return cfg_protos[i].id;
	return -1;
}

/* ---- errors -------------------------------------------------------------------- */

/* Writes <s>'s path ("ports[1].rx_desc") into <buf>; the root is "". */
static void cfg_path_of(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(s);
	const char *name = config_setting_name(s);
	size_t n;

	buf[0] = '\0';
	if (parent == NULL)
		return;
	cfg_path_of(parent, buf, len);
	n = strlen(buf);
	if (name != NULL)
		snprintf(buf + n, len - n, "%s%s", n ? "." : "", name);
	else
		snprintf(buf + n, len - n, "[%d]", config_setting_index(s));
}

/* Writes "FILE[:LINE]: [PATH: ]message" into the caller's buffer. Returns -1. */
__attribute__((format(printf, 4, 0)))
static int cfg_verr(struct cfg_ctx *x, unsigned line, const char *path, const char *fmt, va_list ap)
{
	size_t n;
	int w;

	if (x->err == NULL || x->errlen == 0)
		return -1;
	if (line > 0)
		w = snprintf(x->err, x->errlen, "%s:%u: ", x->file, line);
	else
		w = snprintf(x->err, x->errlen, "%s: ", x->file);
	n = w < 0 ? 0 : (size_t)w;
	if (n < x->errlen && path != NULL && path[0] != '\0') {
		w = snprintf(x->err + n, x->errlen - n, "%s: ", path);
		n += w < 0 ? 0 : (size_t)w;
	}
	if (n < x->errlen)
		vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	return -1;
}

/* An error about setting <s>: its line and path come from the parsed file. Returns -1. */
__attribute__((format(printf, 3, 4)))
static int cfg_err(struct cfg_ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char path[CFG_SETPATH_MAX];
	va_list ap;

	cfg_path_of(s, path, sizeof(path));
	va_start(ap, fmt);
	cfg_verr(x, config_setting_source_line(s), path, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error at <line> (0: none) about <path> (NULL: none). Returns -1. */
__attribute__((format(printf, 4, 5)))
static int cfg_err_at(struct cfg_ctx *x, unsigned line, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(x, line, path, fmt, ap);
	va_end(ap);
	return -1;
}

/* Writes "a, b, c" from a NULL-terminated list into <buf>. */
static const char *cfg_join(const char *const *names, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", names[i]);
		n += w < 0 ? 0 : (size_t)w;
	}
	return buf;
}

/* ---- the typo hint ------------------------------------------------------------- */

/* Edit distance of two short strings; longer than 63 characters counts as far apart. */
static unsigned cfg_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned row[64], prev, tmp;

	if (la > 63 || lb > 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > tmp + 1)
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Finds the table path nearest to the unknown <tpath>: a near spelling at the same depth,
 * or the same last name in another group. Writes " (did you mean X?)" or "". */
static const char *cfg_hint(const struct cfg_table *t, const char *tpath, char *buf, size_t len)
{
	const char *last = strrchr(tpath, '.');
	size_t depth = 0, best_len = 0;
	unsigned best = 3;
	const char *best_path = NULL;

	last = last ? last + 1 : tpath;
	for (const char *p = tpath; *p; p++)
		depth += *p == '.';
	for (size_t i = 0; i < t->n; i++) {
		const char *cand = t->dirs[i].path, *end = cand, *clast;
		size_t dots = 0;
		unsigned d;

		/* <cand> cut to tpath's depth: "dataplane.x" against "dataplan" is "dataplane" */
		while (*end && !(*end == '.' && dots++ == depth))
			end++;
		d = cfg_distance(tpath, strlen(tpath), cand, (size_t)(end - cand));
		clast = strrchr(t->dirs[i].path, '.');
		clast = clast ? clast + 1 : t->dirs[i].path;
		if (d > 2 && strcmp(clast, last) == 0) {
			d = 2;
			end = cand + strlen(cand);
		}
		/* a far guess is noise: "pg" is not a typo of "log" */
		if (d < best && d * 2 < strlen(tpath)) {
			best = d;
			best_path = cand;
			best_len = (size_t)(end - cand);
		}
	}
	if (best_path == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, " (did you mean %.*s?)", (int)best_len, best_path);
	return buf;
}

/* ---- values -------------------------------------------------------------------- */

static void cfg_store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)field = (uint8_t)v; break;
	case 2: *(uint16_t *)field = (uint16_t)v; break;
	case 4: *(uint32_t *)field = (uint32_t)v; break;
	case 8: *(uint64_t *)field = v; break;
	}
}

/* Parses "<digits>[<unit>]" into <out>. Returns 0, or -1 if malformed or over 64 bits. */
static int cfg_parse_scaled(const char *s, const struct cfg_unit *units, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	if (*end != '\0') {
		const struct cfg_unit *u = units;

		while (u->suffix && u->suffix != tolower((unsigned char)*end))
			u++;
		if (u->suffix == 0 || end[1] != '\0' || v > UINT64_MAX / u->mult)
			return -1;
		v *= u->mult;
	}
	*out = v;
	return 0;
}

/* Reads a number of type INT, SIZE or SECONDS from <s>. Returns 0 or -1 (error written). */
static int cfg_get_number(struct cfg_ctx *x, const config_setting_t *s,
			  const struct cfg_directive *d, int64_t *v)
{
	int type = config_setting_type(s);
	uint64_t u;

	if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		*v = config_setting_get_int64(s);
		return 0;
	}
	if (type == CONFIG_TYPE_STRING && d->type != CFG_T_INT) {
		bool size = d->type == CFG_T_SIZE;

		if (cfg_parse_scaled(config_setting_get_string(s),
				     size ? cfg_size_units : cfg_time_units, &u) < 0)
			return cfg_err(x, s, size ?
				       "must be a number of bytes: an integer or a string such as \"256k\", \"64m\", \"1g\"" :
				       "must be a number of seconds: an integer or a string such as \"90s\", \"5m\", \"2h\", \"1d\"");
		*v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
		return 0;
	}
	return cfg_err(x, s, "must be an integer");
}

/* Copies string setting <s> into <dst> (<size> bytes). Returns 0 or -1 (error written). */
static int cfg_copy_string(struct cfg_ctx *x, const config_setting_t *s, char *dst, size_t size)
{
	const char *v;
	size_t n;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_err(x, s, "must be a string");
	v = config_setting_get_string(s);
	n = strlen(v);
	if (n == 0)
		return cfg_err(x, s, "must not be empty");
	if (n >= size)
		return cfg_err(x, s, "too long (at most %zu characters)", size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

/* Finds string setting <s> in <names>. Returns its index, or -1 (error written). */
static int cfg_get_name(struct cfg_ctx *x, const config_setting_t *s, const char *const *names)
{
	char allowed[256];
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_err(x, s, "must be a string, one of: %s",
			       cfg_join(names, allowed, sizeof(allowed)));
	v = config_setting_get_string(s);
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return cfg_err(x, s, "unknown value \"%s\" (allowed: %s)", v,
		       cfg_join(names, allowed, sizeof(allowed)));
}

/* Stores setting <s> as row <d> says, in <base>. Returns 0 or -1 (error written). */
static int cfg_apply(struct cfg_ctx *x, const config_setting_t *s,
		     const struct cfg_directive *d, void *base)
{
	void *field = (char *)base + d->off;
	int64_t v = 0;
	int i;

	switch (d->type) {
	case CFG_T_INT:
	case CFG_T_SIZE:
	case CFG_T_SECONDS:
		if (cfg_get_number(x, s, d, &v) < 0)
			return -1;
		if (v < d->min || v > d->max)
			return cfg_err(x, s, "must be between %lld and %lld%s%s",
				       (long long)d->min, (long long)d->max,
				       d->unit ? " " : "", d->unit ? d->unit : "");
		cfg_store_uint(field, d->size, (uint64_t)v);
		return 0;
	case CFG_T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return cfg_err(x, s, "must be true or false");
		cfg_store_uint(field, d->size, config_setting_get_bool(s) ? 1 : 0);
		return 0;
	case CFG_T_STRING:
		return cfg_copy_string(x, s, field, d->size);
	case CFG_T_ENUM:
		if ((i = cfg_get_name(x, s, d->names)) < 0)
			return -1;
		cfg_store_uint(field, d->size, (uint64_t)i);
		return 0;
	case CFG_T_KEYWORD:
		if ((i = cfg_get_name(x, s, d->names)) < 0)
			return -1;
		snprintf(field, d->size, "%s", d->names[i]);
		return 0;
	case CFG_T_CUSTOM:
		return d->set(x, s, base);
	}
	return cfg_err(x, s, "internal error: bad setting type");
}

/* ---- the walker ---------------------------------------------------------------- */

static const struct cfg_directive *cfg_find(const struct cfg_table *t, const char *tpath, size_t *idx)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->dirs[i].path, tpath) == 0) {
			*idx = i;
			return &t->dirs[i];
		}
	return NULL;
}

/* True if <tpath> names a group of the table ("dataplane" of "dataplane.rto_ms"). */
static bool cfg_is_group(const struct cfg_table *t, const char *tpath)
{
	size_t n = strlen(tpath);

	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->dirs[i].path, tpath, n) == 0 && t->dirs[i].path[n] == '.')
			return true;
	return false;
}

/* Visits every setting of group <grp>, whose path in table <t> is <prefix> ("" or
 * "workers."), and stores it in <base>; <seen> collects the rows found.
 * Returns 0 or -1 (error written). */
static int cfg_walk(struct cfg_ctx *x, const config_setting_t *grp, const struct cfg_table *t,
		    const char *prefix, void *base, uint64_t *seen)
{
	int n = config_setting_length(grp);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const struct cfg_directive *d;
		char tpath[CFG_SETPATH_MAX], hint[CFG_SETPATH_MAX + 32];
		size_t idx;
		int w;

		w = snprintf(tpath, sizeof(tpath) - 1, "%s%s", prefix, config_setting_name(s));
		if (w < 0 || (size_t)w >= sizeof(tpath) - 1)
			return cfg_err(x, s, "unknown setting");
		if ((d = cfg_find(t, tpath, &idx)) != NULL) {
			*seen |= 1ull << idx;
			if (cfg_apply(x, s, d, base) < 0)
				return -1;
		} else if (cfg_is_group(t, tpath)) {
			if (!config_setting_is_group(s))
				return cfg_err(x, s, "must be a group: %s = { ... };", config_setting_name(s));
			strcat(tpath, ".");
			if (cfg_walk(x, s, t, tpath, base, seen) < 0)
				return -1;
		} else {
			return cfg_err(x, s, "unknown setting%s", cfg_hint(t, tpath, hint, sizeof(hint)));
		}
	}
	return 0;
}

/* Walks <grp> as a whole struct of table <t>, then checks its required settings.
 * Returns 0 or -1 (error written). */
static int cfg_walk_item(struct cfg_ctx *x, const config_setting_t *grp,
			 const struct cfg_table *t, void *base)
{
	uint64_t seen = 0;

	if (cfg_walk(x, grp, t, "", base, &seen) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if ((t->dirs[i].flags & CFG_F_REQUIRED) && !(seen & (1ull << i)))
			return cfg_err(x, grp, "%s is required", t->dirs[i].path);
	return 0;
}

/* Checks that <s> is a list of at most <max> groups; <noun> names the items ("ports"),
 * <what> shows one. Returns its length, or -1 (error written). */
static int cfg_list_of_groups(struct cfg_ctx *x, const config_setting_t *s, int max,
			      const char *noun, const char *what)
{
	int n;

	if (!config_setting_is_list(s))
		return cfg_err(x, s, "must be a list: ( %s, ... )", what);
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (i >= max)
			return cfg_err(x, e, "too many %s (at most %d)", noun, max);
		if (!config_setting_is_group(e))
			return cfg_err(x, e, "must be a group: %s", what);
	}
	return n;
}

/* ---- the lists ----------------------------------------------------------------- */

static int cfg_set_eal_args(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return cfg_err(x, s, "must be a list of strings: [ \"--no-pci\", ... ]");
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (i >= CFG_MAX_EAL_ARGS)
			return cfg_err(x, e, "too many EAL arguments (at most %d)", CFG_MAX_EAL_ARGS);
		if (cfg_copy_string(x, e, c->eal_args[i], sizeof(c->eal_args[i])) < 0)
			return -1;
	}
	c->n_eal_args = n;
	return 0;
}

/* Resolves <rel> against the directory of the config file into <out>. */
static int cfg_resolve(struct cfg_ctx *x, const config_setting_t *e, const char *rel, char *out,
		       size_t cap)
{
	const char *path = x->file;
	const char *slash = strrchr(path, '/');
	int n;

	if (rel[0] == '/' || slash == NULL)
		n = snprintf(out, cap, "%s", rel);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, rel);
	if (n < 0 || (size_t)n >= cap)
		return cfg_err(x, e, "path too long (at most %zu bytes)", cap - 1);
	return 0;
}

static int cfg_set_rule_files(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return cfg_err(x, s, "must be a list of file names: [ \"packs/pii.conf\", ... ]");
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char rel[CFG_PATH_MAX];

		if (i >= CFG_MAX_RULE_FILES)
			return cfg_err(x, e, "too many rule files (at most %d)", CFG_MAX_RULE_FILES);
		if (cfg_copy_string(x, e, rel, sizeof(rel)) < 0 ||
		    cfg_resolve(x, e, rel, c->rule_files[i], sizeof(c->rule_files[i])) < 0)
			return -1;
		c->rule_file_line[i] = config_setting_source_line(e);
	}
	c->n_rule_files = n;
	return 0;
}

int cfg_rule_files_check(const struct cfg *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->n_rule_files; i++) {
		const char *f = c->rule_files[i];
		FILE *fp = fopen(f, "r");
		int e = errno;

		/* a directory opens, and fails only when read */
		if (fp != NULL) {
			(void)fgetc(fp);
			e = ferror(fp) ? errno : 0;
			fclose(fp);
		}
		if (fp != NULL && e == 0)
			continue;
		if (err != NULL && errlen > 0) {
			int n = snprintf(err, errlen, c->rule_file_line[i] ? "%s:%u: " : "%s: ",
					 c->path, c->rule_file_line[i]);

			if (n >= 0 && (size_t)n < errlen)
				snprintf(err + n, errlen - (size_t)n, "rules.files[%d]: cannot %s \"%s\": %s",
					 i, fp ? "read" : "open", f, strerror(e));
		}
		return -1;
	}
	return 0;
}

static int cfg_set_rule_cache(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	const char *v = config_setting_get_string(s);
	char rel[CFG_PATH_MAX];

	if (v && v[0] == 0) {
		c->rule_cache_dir[0] = 0; /* "" turns the cache off */
		return 0;
	}
	if (cfg_copy_string(x, s, rel, sizeof(rel)) < 0)
		return -1;
	return cfg_resolve(x, s, rel, c->rule_cache_dir, sizeof(c->rule_cache_dir));
}

/* A path setting: "" is kept as "", anything else resolved against the config file. */
static int cfg_set_path(struct cfg_ctx *x, const config_setting_t *s, char *out, size_t cap)
{
	const char *v = config_setting_get_string(s);
	char rel[CFG_PATH_MAX];

	if (v && v[0] == 0) {
		out[0] = 0;
		return 0;
	}
	if (cfg_copy_string(x, s, rel, sizeof(rel)) < 0)
		return -1;
	return cfg_resolve(x, s, rel, out, cap);
}

static int cfg_set_mgmt_listen(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	const char *v = config_setting_get_string(s);

	if (v && v[0] == 0) {
		c->mgmt_listen[0] = 0; /* "" turns the API off */
		return 0;
	}
	if (cfg_copy_string(x, s, c->mgmt_listen, sizeof(c->mgmt_listen)) < 0)
		return -1;
	if (strrchr(c->mgmt_listen, ':') == NULL)
		return cfg_err(x, s, "must be \"ADDR:PORT\" (\"127.0.0.1:8443\", \"[::1]:8443\")");
	return 0;
}

static int cfg_set_rec_dir(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	return cfg_set_path(x, s, ((struct cfg *)base)->rec_dir, CFG_PATH_MAX);
}

static int cfg_set_mgmt_state(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	return cfg_set_path(x, s, ((struct cfg *)base)->mgmt_state_dir, CFG_PATH_MAX);
}

static int cfg_set_mgmt_cert(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	return cfg_set_path(x, s, ((struct cfg *)base)->mgmt_cert, CFG_PATH_MAX);
}

static int cfg_set_mgmt_key(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	return cfg_set_path(x, s, ((struct cfg *)base)->mgmt_key, CFG_PATH_MAX);
}

static int cfg_set_token_role(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	static const char *const roles[] = { "user", "auditor", "approver", "admin", NULL };
	const char *v = config_setting_get_string(s);

	for (int i = 0; v && roles[i]; i++)
		if (strcmp(v, roles[i]) == 0) {
			((struct cfg_token *)base)->role = (uint8_t)(i + 1);
			return 0;
		}
	return cfg_err(x, s, "must be one of \"user\", \"auditor\", \"approver\", \"admin\"");
}

static int cfg_set_token_hash(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	const char *v = config_setting_get_string(s);
	struct cfg_token *t = base;

	if (v == NULL || strlen(v) != 64)
		return cfg_err(x, s, "must be the SHA-256 of the token as 64 hex digits "
			       "(printf %%s TOKEN | sha256sum)");
	for (int i = 0; i < 32; i++) {
		unsigned b;
		if (sscanf(v + 2 * i, "%2x", &b) != 1 || !isxdigit((unsigned char)v[2 * i]) ||
		    !isxdigit((unsigned char)v[2 * i + 1]))
			return cfg_err(x, s, "must be 64 hex digits");
		t->sha256[i] = (uint8_t)b;
	}
	return 0;
}

static int cfg_set_tokens(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n = cfg_list_of_groups(x, s, 32, "management.tokens",
				   "{ name = \"...\"; role = \"admin\"; sha256 = \"<64 hex>\"; }");

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		memset(&c->tokens[i], 0, sizeof(c->tokens[i]));
		if (cfg_walk_item(x, e, &cfg_token_table, &c->tokens[i]) < 0 ||
		    cfg_unique(x, s, i, "name", "token name", false) < 0)
			return -1;
	}
	c->n_tokens = (uint16_t)n;
	return 0;
}

/* Errors if item <i> of <list> has the same <key> as an earlier item. With <dev>, only
 * the device name before the first ',' counts: "net_af_packet0,iface=a" and
 * "net_af_packet0,iface=b" are one device to DPDK. Returns 0 or -1 (error written). */
static int cfg_unique(struct cfg_ctx *x, const config_setting_t *list, int i, const char *key,
		      const char *what, bool dev)
{
	const config_setting_t *m = config_setting_get_member(
		config_setting_get_elem(list, (unsigned)i), key);
	const char *v = config_setting_get_string(m);
	size_t n = dev ? strcspn(v, ",") : strlen(v);

	for (int j = 0; j < i; j++) {
		const config_setting_t *o = config_setting_get_member(
			config_setting_get_elem(list, (unsigned)j), key);
		const char *ov = config_setting_get_string(o);
		size_t on = dev ? strcspn(ov, ",") : strlen(ov);

		if (n == on && strncmp(v, ov, n) == 0)
			return cfg_err(x, m, "%s \"%.*s\" is already used at line %u", what, (int)n, v,
				       config_setting_source_line(o));
	}
	return 0;
}

static int cfg_set_ports(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n = cfg_list_of_groups(x, s, DP_MAX_PORTS, "ports", "{ name = \"...\"; dev = \"...\"; }");

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct cfg_port *p = &c->ports[i];

		memset(p, 0, sizeof(*p));
		p->rx_desc = CFG_DEF_DESC;
		p->tx_desc = CFG_DEF_DESC;
		p->mtu = CFG_DEF_MTU;
		if (cfg_walk_item(x, e, &cfg_port_table, p) < 0 ||
		    cfg_unique(x, s, i, "name", "port name", false) < 0 ||
		    cfg_unique(x, s, i, "dev", "device", true) < 0)
			return -1;
		x->ports_set[i] = e;
	}
	c->n_ports = (uint16_t)n;
	return 0;
}

/* Pairs are only read here; cfg_resolve_pairs() matches them with ports at the end,
 * since "pairs" may come before "ports" in the file. */
static int cfg_set_pairs(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n = cfg_list_of_groups(x, s, CFG_MAX_PAIRS, "pairs", "{ client = \"...\"; server = \"...\"; }");

	if (n < 0)
		return -1;
	x->pairs_list = s;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (cfg_walk_item(x, e, &cfg_pair_table, &x->pair_names[i]) < 0)
			return -1;
		x->pairs_set[i] = e;
	}
	c->n_pairs = (uint16_t)n;
	return 0;
}

static int cfg_set_address(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	static const uint8_t zero[16];
	struct dp_resource *r = base;
	struct in6_addr a6;
	struct in_addr a4;
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_err(x, s, "must be a string: an IPv4 or IPv6 address");
	v = config_setting_get_string(s);
	memset(r->addr, 0, sizeof(r->addr));
	if (inet_pton(AF_INET, v, &a4) == 1) {
		if (a4.s_addr == 0)
			return cfg_err(x, s, "\"%s\" is the unspecified address", v);
		r->ip_ver = 4;
		memcpy(&r->addr[0], &a4, sizeof(a4));
		return 0;
	}
	if (inet_pton(AF_INET6, v, &a6) == 1) {
		if (memcmp(&a6, zero, sizeof(a6)) == 0)
			return cfg_err(x, s, "\"%s\" is the unspecified address", v);
		/* the wire carries such a peer as IPv4, so an IPv6 entry would never match */
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			return cfg_err(x, s, "\"%s\" is IPv4-mapped: write the IPv4 address", v);
		r->ip_ver = 6;
		memcpy(r->addr, &a6, sizeof(a6));
		return 0;
	}
	return cfg_err(x, s, "\"%s\" is not an IPv4 or IPv6 address", v);
}

static int cfg_set_protocol(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct dp_resource *r = base;
	int id;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_err(x, s, "must be a string: postgresql, pg, mysql, redis, http or tcp");
	if ((id = cfg_parse_proto(config_setting_get_string(s))) < 0)
		return cfg_err(x, s, "unknown protocol \"%s\" (allowed: postgresql, pg, mysql, redis, http, tcp)",
			       config_setting_get_string(s));
	r->proto = (uint8_t)id;
	return 0;
}

static int cfg_set_resources(struct cfg_ctx *x, const config_setting_t *s, void *base)
{
	struct cfg *c = base;
	int n = cfg_list_of_groups(x, s, DP_MAX_RESOURCES, "resources",
				   "{ name = \"...\"; address = \"...\"; port = N; protocol = \"...\"; }");

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct dp_resource *r = &c->dp.resources[i];

		memset(r, 0, sizeof(*r));
		if (cfg_walk_item(x, e, &cfg_resource_table, r) < 0 ||
		    cfg_unique(x, s, i, "name", "resource name", false) < 0)
			return -1;
		/* one endpoint, one protocol: a second entry could never be chosen */
		for (int j = 0; j < i; j++) {
			const struct dp_resource *o = &c->dp.resources[j];

			if (o->ip_ver == r->ip_ver && o->port == r->port &&
			    memcmp(o->addr, r->addr, sizeof(r->addr)) == 0)
				return cfg_err(x, config_setting_get_member(e, "address"),
					       "same address and port as resource \"%s\"", o->name);
		}
	}
	c->dp.n_resources = (uint16_t)n;
	return 0;
}

/* ---- checks across settings ---------------------------------------------------- */

/* Returns the index of the port named <name>, or -1. */
static int cfg_port_index(const struct cfg *c, const char *name)
{
	for (int i = 0; i < c->n_ports; i++)
		if (strcmp(c->ports[i].name, name) == 0)
			return i;
	return -1;
}

/* Resolves pair <i>'s member <key> (naming <name>) to a port index not yet used.
 * <used> holds 1 + the pair index using each port. Returns the index, or -1. */
static int cfg_pair_port(struct cfg_ctx *x, int i, const char *key, const char *name, int *used)
{
	const config_setting_t *m = config_setting_get_member(x->pairs_set[i], key);
	char known[DP_MAX_PORTS * (DP_NAME_MAX + 2)];
	const char *names[DP_MAX_PORTS + 1];
	int p = cfg_port_index(x->c, name);

	if (p < 0) {
		for (int j = 0; j < x->c->n_ports; j++)
			names[j] = x->c->ports[j].name;
		names[x->c->n_ports] = NULL;
		return cfg_err(x, m, "no port named \"%s\" (ports: %s)", name,
			       x->c->n_ports ? cfg_join(names, known, sizeof(known)) : "none");
	}
	if (used[p] == i + 1)
		return cfg_err(x, m, "client and server are the same port \"%s\"", name);
	if (used[p])
		return cfg_err(x, m, "port \"%s\" is already in pairs[%d]", name, used[p] - 1);
	used[p] = i + 1;
	return p;
}

static int cfg_resolve_pairs(struct cfg_ctx *x)
{
	struct cfg *c = x->c;
	int used[DP_MAX_PORTS] = { 0 };

	if (c->n_pairs == 0) {
		if (x->pairs_list != NULL)
			return cfg_err(x, x->pairs_list, "at least one pair is required");
		return cfg_err_at(x, 0, "pairs",
				  "missing: at least one pair ( { client = \"...\"; server = \"...\"; } ) is required");
	}
	for (int i = 0; i < c->n_pairs; i++) {
		int a = cfg_pair_port(x, i, "client", x->pair_names[i].client, used);
		int b = a < 0 ? -1 : cfg_pair_port(x, i, "server", x->pair_names[i].server, used);

		if (b < 0)
			return -1;
		c->pairs[i].a = (uint16_t)a;
		c->pairs[i].b = (uint16_t)b;
	}
	for (int p = 0; p < c->n_ports; p++)
		if (!used[p])
			return cfg_err(x, x->ports_set[p], "port \"%s\" is in no pair", c->ports[p].name);
	return 0;
}

/* Errors about <path> at its line if the file has it, else without a line. */
__attribute__((format(printf, 3, 4)))
static int cfg_err_path(struct cfg_ctx *x, const char *path, const char *fmt, ...)
{
	const config_setting_t *s = config_lookup(x->cf, path);
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(x, s ? config_setting_source_line(s) : 0, path, fmt, ap);
	va_end(ap);
	return -1;
}

/* True if <dev> is a PCI address ("0000:3b:00.0", "3b:00.0"), with or without devargs. */
static bool cfg_is_pci(const char *dev)
{
	size_t n = strcspn(dev, ",");

	return strspn(dev, "0123456789abcdefABCDEF:.") == n &&
	       memchr(dev, ':', n) != NULL && memchr(dev, '.', n) != NULL;
}

/* Errors if a PCI port is configured while eal.args turns the PCI bus off. */
static int cfg_check_pci(struct cfg_ctx *x)
{
	const struct cfg *c = x->c;
	bool no_pci = false;

	for (int i = 0; i < c->n_eal_args; i++)
		no_pci |= strcmp(c->eal_args[i], "--no-pci") == 0;
	for (int p = 0; no_pci && p < c->n_ports; p++)
		if (cfg_is_pci(c->ports[p].dev))
			return cfg_err(x, config_setting_get_member(x->ports_set[p], "dev"),
				       "\"%s\" is a PCI device, but eal.args has --no-pci", c->ports[p].dev);
	return 0;
}

/* Errors if the two ports of a pair have different MTUs: the appliance forwards frames
 * whole (it neither fragments nor clamps for the other side's link), so a frame that
 * fits one side must fit the other. */
static int cfg_check_mtu(struct cfg_ctx *x)
{
	const struct cfg *c = x->c;

	/* af_packet copies each frame into a ring slot of framesz bytes: a slot smaller
	 * than the MTU's frames (Ethernet header and two VLAN tags around the packet) would
	 * cut them short, and drop them on TX, silently */
	for (int p = 0; p < c->n_ports; p++) {
		const struct cfg_port *cp = &c->ports[p];
		uint32_t fs = dp_port_af_packet_framesz(cp->dev);

		if (!dp_port_is_af_packet(cp->dev) ||
		    fs >= DP_PORT_AF_PACKET_HDR + cp->mtu + 14u + 8u)
			continue;
		return cfg_err(x, config_setting_get_member(x->ports_set[p], "dev"),
			       "af_packet frames of %u bytes cannot hold frames of mtu %u: add "
			       ",framesz=%u (or more) to the device string", fs, cp->mtu,
			       (DP_PORT_AF_PACKET_HDR + cp->mtu + 14u + 8u + 1023u) / 1024u * 1024u);
	}
	for (int k = 0; k < c->n_pairs; k++) {
		const struct cfg_port *a = &c->ports[c->pairs[k].a], *b = &c->ports[c->pairs[k].b];
		const config_setting_t *s;

		if (a->mtu == b->mtu)
			continue;
		s = config_setting_get_member(x->ports_set[c->pairs[k].b], "mtu");
		if (s == NULL)
			s = config_setting_get_member(x->ports_set[c->pairs[k].a], "mtu");
		return cfg_err(x, s ? s : x->ports_set[c->pairs[k].b],
			       "ports \"%s\" (mtu %u) and \"%s\" (mtu %u) are a pair: they need the "
			       "same mtu, since frames are forwarded whole", a->name, a->mtu, b->name,
			       b->mtu);
	}
	return 0;
}

/* Errors if an af_packet port's queue pairs are not one a worker: each worker reads
 * and sends on its own queue, and the kernel spreads frames over every queue of the
 * port, so a queue more than workers would receive frames that nobody reads, and one
 * less would leave a worker without a queue. */
static int cfg_check_queues(struct cfg_ctx *x)
{
	const struct cfg *c = x->c;

	for (int p = 0; p < c->n_ports; p++) {
		const struct cfg_port *cp = &c->ports[p];
		uint32_t q = dp_port_af_packet_qpairs(cp->dev);

		if (!dp_port_is_af_packet(cp->dev) || q == c->n_workers)
			continue;
		return cfg_err(x, config_setting_get_member(x->ports_set[p], "dev"),
			       "af_packet port with %u queue pair%s for %u worker%s: each worker "
			       "needs one, and frames spread to a queue without one are lost; set "
			       "qpairs=%u in the device string", q, q == 1 ? "" : "s", c->n_workers,
			       c->n_workers == 1 ? "" : "s", c->n_workers);
	}
	return 0;
}

/* ---- the lcores of eal.args ------------------------------------------------------ */

/* The lcore parsers below follow EAL's (eal_common_options.c: eal_parse_corelist,
 * eal_parse_coremask, eal_parse_lcores) closely enough to count the same lcore ids;
 * where one of them refuses a list, EAL refuses it at start too, and with its own error.
 * Each returns 0 with the ids in <set>, or -1. */

/* Adds lcore ids <lo>..<hi> to <set>. Returns 0, or -1 if one is not below RTE_MAX_LCORE. */
static int cfg_lcore_add(uint64_t *set, unsigned long lo, unsigned long hi)
{
	if (hi >= RTE_MAX_LCORE)
		return -1;
	for (unsigned long i = lo; i <= hi; i++)
		set[i / 64] |= 1ull << (i % 64);
	return 0;
}

/* "-l 0-3,5". As in EAL, a range whose first id is above its last adds nothing. */
static int cfg_parse_corelist(const char *s, uint64_t *set)
{
	unsigned long min = ULONG_MAX, v;
	char *end;

	do {
		while (isblank((unsigned char)*s))
			s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || v >= RTE_MAX_LCORE)
			return -1;
		while (isblank((unsigned char)*end))
			end++;
		if (*end == '-') {
			min = v;
		} else if (*end == ',' || *end == '\0') {
			if (min == ULONG_MAX)
				min = v;
			if (min <= v && cfg_lcore_add(set, min, v) < 0)
				return -1;
			min = ULONG_MAX;
		} else {
			return -1;
		}
		s = end + 1;
	} while (*end != '\0');
	return 0;
}

/* "-c 0x3": a hex mask, "0x" optional, bit N for lcore N. */
static int cfg_parse_coremask(const char *s, uint64_t *set)
{
	unsigned long bit = 0;
	size_t n;

	while (isblank((unsigned char)*s))
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	while (n > 0 && isblank((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return -1;
	for (; n > 0; n--, bit += 4) {
		int d = (unsigned char)s[n - 1];

		if (!isxdigit(d))
			return -1;
		d = isdigit(d) ? d - '0' : tolower(d) - 'a' + 10;
		for (unsigned j = 0; j < 4; j++)
			if ((d & (1 << j)) && cfg_lcore_add(set, bit + j, bit + j) < 0)
				return -1;
	}
	return 0;
}

/* One set of "--lcores" at <s>: "3", "1-3" or "(0,2-4)"; its ids go into <set> (NULL:
 * only read, for the CPUs after '@'). Returns the end of the set, or NULL. */
static const char *cfg_parse_lcore_set(const char *s, uint64_t *set)
{
	bool group;

	while (isblank((unsigned char)*s))
		s++;
	group = *s == '(';
	s += group;
	for (;;) {
		unsigned long lo, hi;
		char *end;

		while (isblank((unsigned char)*s))
			s++;
		if (!isdigit((unsigned char)*s))
			return NULL;
		errno = 0;
		lo = hi = strtoul(s, &end, 10);
		while (isblank((unsigned char)*end))
			end++;
		if (*end == '-') {
			s = end + 1;
			while (isblank((unsigned char)*s))
				s++;
			if (!isdigit((unsigned char)*s))
				return NULL;
			hi = strtoul(s, &end, 10);
			while (isblank((unsigned char)*end))
				end++;
		}
		if (errno != 0)
			return NULL;
		/* either order, as EAL takes it here */
		if (set != NULL && cfg_lcore_add(set, lo < hi ? lo : hi, lo < hi ? hi : lo) < 0)
			return NULL;
		s = end;
		if (!group)
			return s;
		if (*s == ')')
			return s + 1;
		if (*s != ',')
			return NULL;
		s++;
	}
}

/* "--lcores 0@0,1@0,2@1" or "(0-1)@0": the lcore ids count, not the CPUs after '@'. */
static int cfg_parse_lcores(const char *s, uint64_t *set)
{
	for (;;) {
		if ((s = cfg_parse_lcore_set(s, set)) == NULL)
			return -1;
		while (isblank((unsigned char)*s))
			s++;
		if (*s == '@') {
			if ((s = cfg_parse_lcore_set(s + 1, NULL)) == NULL)
				return -1;
			while (isblank((unsigned char)*s))
				s++;
		}
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			return -1;
	}
}

/* Errors if eal.args' lcore list (-l, -c or --lcores) has fewer than workers.count + 1
 * lcores: tollgated runs one worker on each lcore but the main one, and refuses to start
 * when EAL has fewer (tgd_eal_start()). Without such an option tollgated writes the list
 * itself from the CPUs it may use, and says at start if they are too few: that depends
 * on the machine, not the file, so it is not checked here. Two lcore options, or one
 * that EAL would refuse, are left to EAL's own error too. */
static int cfg_check_lcores(struct cfg_ctx *x)
{
	const struct cfg *c = x->c;
	uint64_t set[(RTE_MAX_LCORE + 63) / 64] = { 0 }, svc[(RTE_MAX_LCORE + 63) / 64] = { 0 };
	const config_setting_t *s;
	int opt = -1, n_opts = 0, rc = -1;
	unsigned lcores = 0, n_svc = 0, n = c->n_workers;
	char shown[80], why[48] = "";

	for (int i = 0; i < c->n_eal_args; i++) {
		const char *a = c->eal_args[i], *v;
		size_t name;

		/* service cores (-s mask, -S list) run no worker: EAL still counts them in
		 * rte_lcore_count(), and start-up refuses too few worker lcores */
		if (a[0] == '-' && (a[1] == 's' || a[1] == 'S')) {
			v = a[2] ? a + 2 : i + 1 < c->n_eal_args ? c->eal_args[i + 1] : NULL;
			if (v != NULL && (a[1] == 's' ? cfg_parse_coremask(v, svc) :
						       cfg_parse_corelist(v, svc)) < 0)
				return 0;      /* EAL says what is wrong with it */
			continue;
		}

		/* the forms tgd_eal_has() takes: "-l", "-l0-1", "--lcores", "--lcores=..." */
		if (strncmp(a, "--lcores", 8) == 0 && (a[8] == '\0' || a[8] == '='))
			name = 8;
		else if (a[0] == '-' && (a[1] == 'l' || a[1] == 'c'))
			name = 2;
		else
			continue;
		opt = i;
		n_opts++;
		if (!a[name] && i + 1 == c->n_eal_args)
			return 0;              /* no value: EAL says so */
		v = a[name] ? a + name + (a[name] == '=') : c->eal_args[i + 1];
		if (a[1] == 'l')
			rc = cfg_parse_corelist(v, set);
		else if (a[1] == 'c')
			rc = cfg_parse_coremask(v, set);
		else
			rc = cfg_parse_lcores(v, set);
		if (!a[name])
			snprintf(shown, sizeof(shown), "%s %s", a, v);
		else
			snprintf(shown, sizeof(shown), "%s", a);
	}
	if (n_opts != 1 || rc < 0)
		return 0;
	for (size_t w = 0; w < sizeof(set) / sizeof(set[0]); w++) {
		lcores += (unsigned)__builtin_popcountll(set[w]);
		n_svc += (unsigned)__builtin_popcountll(set[w] & svc[w]);
	}
	if (lcores == 0 || lcores - n_svc > n)
		return 0;
	if (n_svc)
		snprintf(why, sizeof(why), ", %u of them service cores", n_svc);
	/* at workers.count's line, or at the lcore option's when the count is the default */
	s = config_lookup(x->cf, "workers.count");
	if (s == NULL)
		s = config_setting_get_elem(config_lookup(x->cf, "eal.args"), (unsigned)opt);
	return cfg_err_at(x, s ? config_setting_source_line(s) : 0, "workers.count",
			  "%u worker%s need%s %u lcores (one main + %u worker%s) but eal.args gives %u (\"%s\")%s",
			  n, n == 1 ? "" : "s", n == 1 ? "s" : "", n + 1, n, n == 1 ? "" : "s",
			  lcores, shown, why);
}

static int cfg_check(struct cfg_ctx *x)
{
	const struct cfg *c = x->c;
	uint64_t desc = 0, need;

	if (cfg_resolve_pairs(x) < 0 || cfg_check_lcores(x) < 0 || cfg_check_pci(x) < 0 ||
	    cfg_check_mtu(x) < 0 || cfg_check_queues(x) < 0)
		return -1;
	/* the data plane cuts a reassembled datagram of no protected flow to the MTU of
	 * the port it leaves by (worker.c: resplit) */
	for (int p = 0; p < c->n_ports && p < DP_MAX_PORTS; p++)
		x->c->dp.port_mtu[p] = c->ports[p].mtu;
	/* every RX ring is filled at start and TX rings hold mbufs until sent */
	for (int p = 0; p < c->n_ports; p++)
		desc += c->ports[p].rx_desc + c->ports[p].tx_desc;
	need = desc * c->n_workers;
	if (c->mbufs < need)
		return cfg_err_path(x, "workers.mbufs",
				    "%u cannot fill the rings: workers.count (%u) x rx_desc + tx_desc of all ports (%llu) = %llu",
				    c->mbufs, c->n_workers, (unsigned long long)desc,
				    (unsigned long long)need);
	if (c->dp.stream_memcap < 2ull * c->dp.max_hold_bytes)
		return cfg_err_path(x, "dataplane.stream_memcap",
				    "%llu is less than twice dataplane.max_hold_bytes (%u): one flow could exhaust it",
				    (unsigned long long)c->dp.stream_memcap, c->dp.max_hold_bytes);
	return 0;
}

/* ---- reading the file ---------------------------------------------------------- */

/* Reads the whole file into <*text> (NUL-terminated). Returns 0 or -1 (error written). */
static int cfg_read_text(struct cfg_ctx *x, char **text)
{
	FILE *f = fopen(x->file, "r");
	size_t len = 0, cap = 4096;
	char *buf;

	if (f == NULL)
		return cfg_err_at(x, 0, NULL, "cannot open: %s", strerror(errno));
	if ((buf = malloc(cap)) == NULL) {
		fclose(f);
		return cfg_err_at(x, 0, NULL, "out of memory");
	}
	for (;;) {
		size_t got = fread(buf + len, 1, cap - len - 1, f);

		len += got;
		if (got == 0)
			break;
		if (len + 1 == cap) {
			char *nb;

			if (cap >= CFG_FILE_MAX) {
				free(buf);
				fclose(f);
				return cfg_err_at(x, 0, NULL, "too large (over %u bytes)", CFG_FILE_MAX);
			}
			if ((nb = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				fclose(f);
				return cfg_err_at(x, 0, NULL, "out of memory");
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		int e = errno;

		free(buf);
		fclose(f);
		return cfg_err_at(x, 0, NULL, "cannot read: %s", strerror(e));
	}
	fclose(f);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return cfg_err_at(x, 0, NULL, "contains a NUL byte: not a text file");
	}
	*text = buf;
	return 0;
}

/* True if token [b, e) is an integer libconfig 1.5 would truncate to 32 bits. */
static bool cfg_int_too_big(const char *b, const char *e)
{
	const char *p = b;
	size_t digits;

	if (e - b > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')) {
		for (p = b + 2; p < e; p++)
			if (!isxdigit((unsigned char)*p))
				return false;      /* 0x10L and the like */
		for (p = b + 2; p < e - 1 && *p == '0'; p++)
			;
		/* libconfig reads hex with strtoul() into an int: 0x80000000 turns negative */
		return e - p > 8 || (e - p == 8 && *p > '7');
	}
	if (*p == '-' || *p == '+')
		p++;
	if (p == e)
		return false;
	for (const char *q = p; q < e; q++)
		if (!isdigit((unsigned char)*q))
			return false;      /* 5L, 1.5, 1e6 */
	while (p < e - 1 && *p == '0')
		p++;
	digits = (size_t)(e - p);
	if (digits != 10)
		return digits > 10;
	/* ten digits: compare with 2147483647 (or 2147483648 for a negative number) */
	return strncmp(p, b[0] == '-' ? "2147483648" : "2147483647", 10) > 0;
}

/* Skips white space, comments and strings at <p>, adding the lines they end to <*line>.
 * Returns the first character of anything else (the NUL at the end). */
static const char *cfg_skip(const char *p, unsigned *line)
{
	for (;;) {
		if (*p == '\n') {
			(*line)++;
			p++;
		} else if (isspace((unsigned char)*p)) {
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				*line += *p == '\n';
			if (*p)
				p += 2;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				*line += *p == '\n';
			}
			if (*p)
				p++;
		} else {
			return p;
		}
	}
}

/* libconfig 1.5 reads an integer without an L suffix with atoi(), so 5000000000
 * silently becomes 705032704. This pass finds such literals (outside strings and
 * comments) so that they are refused instead; it also refuses @include, since the
 * configuration is one file, and files longer than libconfig can count.
 * Sets <*big_line> (0: none) and <big> to the first such literal.
 * Returns 0 or -1 (error written). */
static int cfg_prescan(struct cfg_ctx *x, const char *p, unsigned *big_line, char *big, size_t biglen)
{
	unsigned line = 1;

	*big_line = 0;
	while (*(p = cfg_skip(p, &line))) {
		if (strncmp(p, "@include", 8) == 0) {
			return cfg_err_at(x, line, NULL, "@include is not supported: the configuration is one file");
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '*')
				p++;
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
			const char *b = p++;

			while (isalnum((unsigned char)*p) || *p == '.' ||
			       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
			if (*big_line == 0 && cfg_int_too_big(b, p)) {
				*big_line = line;
				snprintf(big, biglen, "%.*s", (int)(p - b), b);
			}
		} else {
			p++;
		}
	}
	if (line > CFG_LINES_MAX)
		return cfg_err_at(x, 0, NULL, "too long (over %d lines)", CFG_LINES_MAX);
	return 0;
}

/* Writes line <n> of <text> into <buf> (CFG_NEAR_MAX + 4 bytes): trimmed, without a
 * comment after it, control characters as spaces, cut at CFG_NEAR_MAX characters
 * with "..." after. */
static void cfg_line_text(const char *text, unsigned n, char *buf)
{
	const char *b = text, *e;
	bool quoted = false;
	size_t k = 0;

	for (unsigned line = 1; line < n && *b; b++)
		line += *b == '\n';
	while (*b != '\n' && isspace((unsigned char)*b))
		b++;
	/* the end: the line's, or a comment's start outside a string */
	for (e = b; *e && *e != '\n'; e++) {
		if (*e == '"')
			quoted = !quoted;
		else if (quoted && *e == '\\' && e[1] && e[1] != '\n')
			e++;
		else if (!quoted && (*e == '#' || (e[0] == '/' && (e[1] == '/' || e[1] == '*'))))
			break;
	}
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	for (; b < e && k < CFG_NEAR_MAX; b++)
		buf[k++] = iscntrl((unsigned char)*b) ? ' ' : *b;
	if (b < e) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
}

/* A visitor of cfg_text_settings(): <path> of a setting named at <at>, on <line>.
 * Returns nonzero to stop. */
typedef int (*cfg_text_pt)(void *arg, const char *path, unsigned line, const char *at);

/* Calls <fn> for each setting named in <text> up to line <last>, with its path
 * ("ports[1].name") as the brackets and names before it say: for a file that libconfig
 * does not parse, where no setting tree is left to ask. */
static void cfg_text_settings(const char *text, unsigned last, cfg_text_pt fn, void *arg)
{
	char path[CFG_SETPATH_MAX] = "", name[CFG_SETPATH_MAX] = "", full[CFG_SETPATH_MAX];
	char open[CFG_DEPTH_MAX] = { '{' };     /* each bracket open; [0] the root group */
	unsigned idx[CFG_DEPTH_MAX] = { 0 };    /* in a list or array: the item's index */
	size_t plen[CFG_DEPTH_MAX] = { 0 };     /* path's length before the bracket's name */
	unsigned line = 1, name_line = 0;
	const char *p = text, *name_at = text;
	bool named = false;                     /* a name and '=' came: a bracket is its value */
	int depth = 0;
	size_t n;

	while (*(p = cfg_skip(p, &line)) && line <= last) {
		if (isalpha((unsigned char)*p) || *p == '*') {
			for (name_at = p; isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '*'; p++)
				;
			snprintf(name, sizeof(name), "%.*s", (int)(p - name_at), name_at);
			name_line = line;
			continue;
		}
		switch (*p++) {
		case '=':
		case ':':
			snprintf(full, sizeof(full), "%s%s%s", path, path[0] ? "." : "", name);
			if (fn(arg, full, name_line, name_at))
				return;
			named = true;
			break;
		case '{':
		case '(':
		case '[':
			if (depth + 1 == CFG_DEPTH_MAX)
				return;
			n = strlen(path);
			if (named)
				snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", name);
			else if (open[depth] != '{')
				snprintf(path + n, sizeof(path) - n, "[%u]", idx[depth]);
			depth++;
			open[depth] = p[-1];
			idx[depth] = 0;
			plen[depth] = n;
			named = false;
			break;
		case '}':
		case ')':
		case ']':
			if (depth > 0)
				path[plen[depth--]] = '\0';
			named = false;
			break;
		case ',':
			idx[depth] += open[depth] != '{';
			named = false;
			break;
		case ';':
			named = false;
			break;
		}
	}
}

/* The search for libconfig's duplicate: a setting on its error line whose path is
 * named before (parsing stops at the first duplicate, so every path before is unique). */
struct cfg_dup {
	unsigned line;                /* libconfig's error line */
	unsigned skip;                /* settings on it not to take (tried already) */
	const char *at;               /* the one taken, or NULL */
	char path[CFG_SETPATH_MAX];   /* its path */
	bool twin;                    /* its path is named before it */
};

static int cfg_dup_take(void *arg, const char *path, unsigned line, const char *at)
{
	struct cfg_dup *d = arg;

	if (line != d->line)
		return 0;
	if (d->skip > 0) {
		d->skip--;
		return 0;
	}
	d->at = at;
	snprintf(d->path, sizeof(d->path), "%s", path);
	return 1;
}

static int cfg_dup_twin(void *arg, const char *path, unsigned line, const char *at)
{
	struct cfg_dup *d = arg;

	(void)line;
	if (at >= d->at)
		return 1;
	d->twin = strcmp(path, d->path) == 0;
	return d->twin;
}

/* Writes into <buf> the path of the duplicate setting libconfig found on <line>, or "".
 * Each setting on the line is tried in turn (a line rarely has more than one). */
static void cfg_dup_path(const char *text, unsigned line, char *buf, size_t len)
{
	struct cfg_dup d = { .line = line };

	buf[0] = '\0';
	for (unsigned k = 0; k < 8; k++) {
		d.skip = k;
		d.at = NULL;
		cfg_text_settings(text, line, cfg_dup_take, &d);
		if (d.at == NULL)
			return;
		d.twin = false;
		cfg_text_settings(text, line, cfg_dup_twin, &d);
		if (d.twin) {
			snprintf(buf, len, "%s", d.path);
			return;
		}
	}
}

/* Writes libconfig's parse error with the text of its line ("syntax error near: count
 * = ;"), or for a duplicate the setting's path ("duplicate setting name: workers.count").
 * Returns -1. */
static int cfg_parse_err(struct cfg_ctx *x, const config_t *cf, const char *text)
{
	unsigned line = (unsigned)config_error_line(cf);
	const char *what = config_error_text(cf) ? config_error_text(cf) : "cannot parse";
	char near[CFG_NEAR_MAX + 4], path[CFG_SETPATH_MAX];

	if (strcmp(what, "duplicate setting name") == 0) {
		cfg_dup_path(text, line, path, sizeof(path));
		if (path[0] != '\0')
			return cfg_err_at(x, line, NULL, "%s: %s", what, path);
	}
	cfg_line_text(text, line, near);
	if (near[0] == '\0')
		return cfg_err_at(x, line, NULL, "%s", what);
	return cfg_err_at(x, line, NULL, "%s near: %s", what, near);
}

/* Returns the first integer setting on <line> under <s>, or NULL. */
static const config_setting_t *cfg_int_at_line(const config_setting_t *s, unsigned line)
{
	if (config_setting_type(s) == CONFIG_TYPE_INT && config_setting_source_line(s) == line)
		return s;
	if (config_setting_is_aggregate(s))
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *r = cfg_int_at_line(
				config_setting_get_elem(s, (unsigned)i), line);

			if (r != NULL)
				return r;
		}
	return NULL;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	struct cfg_ctx x = { .c = c, .file = path, .err = err, .errlen = errlen };
	const config_setting_t *s;
	char *text = NULL, big[48];
	unsigned big_line;
	config_t cf;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	cfg_defaults(c);
	if (snprintf(c->path, sizeof(c->path), "%s", path) >= (int)sizeof(c->path))
		return cfg_err_at(&x, 0, NULL, "path too long (at most %zu characters)",
				  sizeof(c->path) - 1);
	if (cfg_read_text(&x, &text) < 0)
		return -1;
	if (cfg_prescan(&x, text, &big_line, big, sizeof(big)) < 0) {
		free(text);
		return -1;
	}
	config_init(&cf);
	x.cf = &cf;
	if (config_read_string(&cf, text) != CONFIG_TRUE) {
		cfg_parse_err(&x, &cf, text);
		goto out;
	}
	if (big_line != 0) {
		if ((s = cfg_int_at_line(config_root_setting(&cf), big_line)) != NULL)
			cfg_err(&x, s, "%s does not fit in 32 bits: write %sL", big, big);
		else
			cfg_err_at(&x, big_line, NULL, "%s does not fit in 32 bits: write %sL", big, big);
		goto out;
	}
	if (cfg_walk_item(&x, config_root_setting(&cf), &cfg_root_table, c) < 0 || cfg_check(&x) < 0)
		goto out;
	rc = 0;
out:
	config_destroy(&cf);
	free(text);
	return rc;
}
