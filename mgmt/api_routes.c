/* api_routes.c - the management API's routes: health, stats, metrics, sessions, rules,
 * audit. Each handler reads its parameters, calls the daemon (api_ops) or the recorder,
 * and answers with api_reply_*; management actions are written to the audit log. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <openssl/evp.h>

#include "common/tg_log.h"
#include "common/tg_rule_files.h"
#include "mgmt/api_int.h"
#include "rules/rule-t.h"
#include "slowpath/recorder.h"

#define API_LIST_MAX       1000       /* most sessions or audit records in one answer */
#define API_LIST_DEF       100
#define API_EVENTS_MAX     10000      /* most events in one answer */
#define API_EVENTS_DEF     1000

static const char API_METRICS_TYPE[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- parameters ---- */

static const char *query(const struct api_call *c, const char *name)
{
	return evhttp_find_header(c->query, name);
}

/* Reads unsigned query parameter <name> into <out> (<def> if absent), within [min, max].
 * Returns 0, or -1 after answering 400. */
static int query_uint(struct api_call *c, const char *name, uint64_t min, uint64_t max,
		      uint64_t def, uint64_t *out)
{
	const char *v = query(c, name);
	char *end;
	unsigned long long n;

	*out = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || *end || errno || n < min || n > max) {
		api_reply_error(c->rs, 400, "query parameter '%s' must be an integer from %llu "
				"to %llu", name, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Reads <n> decimal digits at <s>; -1 if one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Parses an RFC 3339 time ("2026-11-29T02:44:05.123Z", "...+01:00") into ns since the
 * epoch. Returns 0 or -1. */
static int parse_rfc3339(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	int64_t frac = 0, off = 0, secs;
	int scale = 1000000000;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 70 || tm.tm_year > 1100 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++)
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * (int64_t)scale;
			}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
		int h = digits(s + 1, 2), m = digits(s + 4, 2);

		if (h < 0 || h > 23 || m < 0 || m > 59)
			return -1;
		off = (h * 3600 + m * 60) * (*s == '-' ? -1 : 1);
		s += 6;
	} else {
		return -1;
	}
	if (*s)
		return -1;
	secs = (int64_t)timegm(&tm) - off;
	/* Why the upper bound: 2^64 ns is about the year 2554, and the years up to 3000
	 * that pass the checks above wrapped around to a time in the past (a "since" in
	 * 2600 read as 1969 plus a little); a number of ns that large is refused too. */
	if (secs < 0 || (uint64_t)secs > (UINT64_MAX - 999999999u) / 1000000000u)
		return -1;
	*ns = (uint64_t)secs * 1000000000u + (uint64_t)frac;
	return 0;
}

/* Reads time parameter <name>: ns since the epoch, or RFC 3339. Returns 0 or -1 (400). */
static int query_time(struct api_call *c, const char *name, uint64_t *ns)
{
	const char *v = query(c, name);
	char *end;

	*ns = 0;
	if (!v)
		return 0;
	if (v[strspn(v, "0123456789")] == 0) {
		errno = 0;
		*ns = strtoull(v, &end, 10);
		if (*v && !errno)
			return 0;
	} else if (parse_rfc3339(v, ns) == 0) {
		return 0;
	}
	api_reply_error(c->rs, 400, "query parameter '%s' must be ns since the epoch or an "
			"RFC 3339 time", name);
	return -1;
}

/* Parses a session id (16 hex digits). Returns 0, or -1 after answering 400. */
static int parse_sid(struct api_response *rs, const char *what, const char *s, uint64_t *sid)
{
	size_t n = 0;

	while (n < 17 && isxdigit((unsigned char)s[n]))
		n++;
	if (n != 16 || s[16] || rec_sid_parse(s, sid) != 0) {
		api_reply_error(rs, 400, "%s must be a session id of 16 hex digits", what);
		return -1;
	}
	return 0;
}

/* Answers 503 when there is no recorder. Returns 0 if there is one. */
static int need_rec(struct api_call *c)
{
	if (c->a->rec)
		return 0;
	api_reply_error(c->rs, 503, "recording is not enabled");
	return -1;
}

/* Answers 503 for a route whose operation the daemon did not provide. */
static int need_op(struct api_call *c, const void *op, const char *what)
{
	if (op)
		return 0;
	api_reply_error(c->rs, 503, "%s is not available", what);
	return -1;
}

/* ---- body schemas ---- */

/* A body field: its JSON type (JSON_TRUE stands for any boolean) and whether required. */
struct api_field {
	const char *name;
	json_type type;
	int required;
};

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:  return "an object";
	case JSON_ARRAY:   return "an array";
	case JSON_STRING:  return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_TRUE:    return "a boolean";
	default:           return "a value";
	}
}

/* Checks object <o> (at <where>, "" for the body) against <fields> (NULL-named end):
 * unknown names, types, required fields. Returns 0, or -1 after answering 400. */
static int check_fields(struct api_response *rs, json_t *o, const char *where,
			const struct api_field *fields)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		api_reply_error(rs, 400, "%s must be an object", where);
		return -1;
	}
	json_object_foreach(o, k, v) {
		const struct api_field *f = fields;

		while (f->name && strcmp(f->name, k) != 0)
			f++;
		if (!f->name) {
			api_reply_error(rs, 400, "unknown field '%s%.64s'", where, k);
			return -1;
		}
		int ok = f->type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == f->type;

		if (!ok) {
			api_reply_error(rs, 400, "field '%s%s' must be %s", where, k,
					type_name(f->type));
			return -1;
		}
	}
	for (const struct api_field *f = fields; f->name; f++)
		if (f->required && !json_object_get(o, f->name)) {
			api_reply_error(rs, 400, "field '%s%s' is required", where, f->name);
			return -1;
		}
	return 0;
}

/* ---- audit ---- */

/* Writes a management action to the audit log (and to the log). Takes <detail>. */
static void audit(struct api_call *c, const char *action, json_t *detail)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;

	TG_INFO("api", "audit: %s by %s: %s", action, c->who->name, text ? text : "{}");
	free(text);
	if (c->a->rec && rec_audit(c->a->rec, c->who->name, action, detail) != 0)
		TG_ERR("api", "audit record for %s by %s not written", action, c->who->name);
	json_decref(detail);
}

/* ---- handlers ---- */

static void h_health(struct api_call *c)
{
	json_t *j = c->a->ops.health ? c->a->ops.health(c->a->ops.ctx)
				     : json_pack("{s:s}", "status", "ok");

	api_reply_json(c->rs, 200, j);
}

static void h_stats(struct api_call *c)
{
	if (need_op(c, c->a->ops.stats, "stats") == 0)
		api_reply_json(c->rs, 200, c->a->ops.stats(c->a->ops.ctx));
}

/* One Prometheus metric with its HELP and TYPE lines. */
static void metric(FILE *f, const char *name, const char *type, const char *help,
		   const char *labels, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s%s %.17g\n", name, help, name, type, name,
		labels ? labels : "", v);
}

static void h_metrics(struct api_call *c)
{
	struct api_response *rs = c->rs;
	char *text = NULL, *daemon = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	if (!f) {
		api_reply_error(rs, 500, "out of memory");
		return;
	}
	if (c->a->ops.metrics)
		daemon = c->a->ops.metrics(c->a->ops.ctx);
	if (daemon && *daemon)
		fprintf(f, "%s%s", daemon, daemon[strlen(daemon) - 1] == '\n' ? "" : "\n");
	free(daemon);
	if (c->a->rec) {
		const struct rec_stats *s = rec_stats(c->a->rec);

		metric(f, "tollgate_recorder_events_written_total", "counter",
		       "Events committed to the recording store.", NULL, (double)s->events_written);
		metric(f, "tollgate_recorder_batches_total", "counter",
		       "Write transactions committed.", NULL, (double)s->batches);
		metric(f, "tollgate_recorder_write_errors_total", "counter",
		       "Write transactions that failed.", NULL, (double)s->write_errors);
		metric(f, "tollgate_recorder_events_lost_total", "counter",
		       "Events not recorded because a write failed.", NULL, (double)s->events_lost);
		metric(f, "tollgate_recorder_sync_errors_total", "counter",
		       "Flushes of the store's last commit that failed (disk errors).", NULL,
		       (double)s->sync_errors);
		metric(f, "tollgate_recorder_map_full_total", "counter",
		       "Times the recording store was full.", NULL, (double)s->map_full);
		metric(f, "tollgate_recorder_sessions_pruned_total", "counter",
		       "Sessions removed by retention.", NULL, (double)s->sessions_pruned);
		fprintf(f, "# HELP tollgate_recorder_batch_seconds Duration of write batches "
			"(the last one, the longest one).\n"
			"# TYPE tollgate_recorder_batch_seconds gauge\n"
			"tollgate_recorder_batch_seconds{stat=\"last\"} %.6f\n"
			"tollgate_recorder_batch_seconds{stat=\"max\"} %.6f\n",
			s->last_batch_us / 1e6, s->max_batch_us / 1e6);
	}
	fprintf(f, "# HELP tollgate_api_requests_total Management API answers by status class.\n"
		"# TYPE tollgate_api_requests_total counter\n");
	for (int k = 1; k <= 5; k++)
		fprintf(f, "tollgate_api_requests_total{code=\"%dxx\"} %llu\n", k,
			(unsigned long long)c->a->cnt.by_class[k]);
	metric(f, "tollgate_api_auth_failures_total", "counter",
	       "Requests without a known bearer token (401).", NULL,
	       (double)c->a->cnt.auth_failures);
	metric(f, "tollgate_api_forbidden_total", "counter",
	       "Requests whose token lacked the role (403).", NULL, (double)c->a->cnt.forbidden);
	if (fclose(f) != 0 || !text) {
		free(text);
		api_reply_error(rs, 500, "out of memory");
		return;
	}
	free(rs->body);
	rs->status = 200;
	rs->content_type = API_METRICS_TYPE;
	rs->body = text;
	rs->body_len = len;
}

/* Maps a verdict name ("block") to enum rule_action; -1 if unknown. */
static int verdict_parse(const char *s)
{
	static const char *const names[] = {
		[RULE_ALLOW] = "allow", [RULE_ALERT] = "alert", [RULE_MASK] = "mask",
		[RULE_REVIEW] = "review", [RULE_BLOCK] = "block", [RULE_RESET] = "reset",
	};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* The id of the last element of list <arr> (a string, or an integer session id), as a
 * JSON string; NULL if there is none. */
static json_t *last_id(json_t *arr)
{
	json_t *last = json_array_get(arr, json_array_size(arr) - 1);
	json_t *id = json_object_get(last, "id");
	char buf[17];

	if (json_is_string(id))
		return json_copy(id);
	if (json_is_integer(id)) {
		rec_sid_str((uint64_t)json_integer_value(id), buf);
		return json_string(buf);
	}
	return NULL;
}

/* See api_ops.flush: reads of the recording see everything sent before the request. */
static void flush_events(struct api_call *c)
{
	if (c->a->ops.flush)
		c->a->ops.flush(c->a->ops.ctx);
}

static void h_sessions(struct api_call *c)
{
	struct rec_filter f = { .verdict = -1 };
	uint64_t limit, live;
	const char *v;
	json_t *list;

	if (need_rec(c) || query_time(c, "since", &f.since_ns) ||
	    query_time(c, "until", &f.until_ns) ||
	    query_uint(c, "limit", 1, API_LIST_MAX, API_LIST_DEF, &limit) ||
	    query_uint(c, "live", 0, 1, 0, &live))
		return;
	f.limit = (unsigned)limit;
	f.live = (int)live;
	f.resource = query(c, "resource");
	f.user = query(c, "user");
	if ((v = query(c, "verdict")) && (f.verdict = verdict_parse(v)) < 0) {
		api_reply_error(c->rs, 400, "query parameter 'verdict' must be one of allow, "
				"alert, mask, review, block, reset");
		return;
	}
	if ((v = query(c, "before")) && parse_sid(c->rs, "query parameter 'before'", v,
						  &f.before_sid))
		return;
	flush_events(c);
	if (rec_sessions(c->a->rec, &f, &list) != 0 || !json_is_array(list)) {
		json_decref(list);
		api_reply_error(c->rs, 500, "reading the sessions failed");
		return;
	}
	/* A full page may have more behind it: "next" is the cursor for ?before=. */
	json_t *next = json_array_size(list) == f.limit ? last_id(list) : NULL;

	api_reply_json(c->rs, 200, json_pack("{s:o,s:o}", "sessions", list,
					    "next", next ? next : json_null()));
}

static void h_session(struct api_call *c)
{
	uint64_t sid;
	json_t *s;

	if (need_rec(c) || parse_sid(c->rs, "the session id", c->id, &sid))
		return;
	flush_events(c);
	if (rec_session(c->a->rec, sid, &s) != 0 || !s) {
		api_reply_error(c->rs, 404, "no session %s", c->id);
		return;
	}
	api_reply_json(c->rs, 200, s);
}

static void h_events(struct api_call *c)
{
	uint64_t sid, from, limit;
	json_t *ev, *next = NULL;

	if (need_rec(c) || parse_sid(c->rs, "the session id", c->id, &sid) ||
	    query_uint(c, "from", 0, UINT32_MAX, 0, &from) ||
	    query_uint(c, "limit", 1, API_EVENTS_MAX, API_EVENTS_DEF, &limit))
		return;
	flush_events(c);
	if (rec_events(c->a->rec, sid, (uint32_t)from, (uint32_t)limit, &ev) != 0 || !ev) {
		api_reply_error(c->rs, 404, "no session %s", c->id);
		return;
	}
	if (json_array_size(ev) == limit) {
		json_t *seq = json_object_get(json_array_get(ev, limit - 1), "seq");

		if (json_is_integer(seq))
			next = json_integer(json_integer_value(seq) + 1);
	}
	api_reply_json(c->rs, 200, json_pack("{s:s,s:o,s:o}", "session", c->id, "events", ev,
					    "next", next ? next : json_null()));
}

/* Whether a recorded session is closed: its "closed" is set (not null, 0 or false). */
static int session_closed(json_t *s)
{
	json_t *v = json_object_get(s, "closed");

	return v && !json_is_null(v) && !json_is_false(v) &&
	       !(json_is_integer(v) && json_integer_value(v) == 0) &&
	       !(json_is_string(v) && !*json_string_value(v));
}

static void h_kill(struct api_call *c)
{
	static const struct api_field fields[] = {
		{ "reason", JSON_STRING, 0 }, { NULL, 0, 0 },
	};
	char err[API_ERR_MAX] = "";
	const char *reason;
	uint64_t sid;
	json_t *s = NULL;

	if (need_op(c, c->a->ops.kill, "kill") || parse_sid(c->rs, "the session id", c->id, &sid) ||
	    (c->body && check_fields(c->rs, c->body, "", fields)))
		return;
	reason = json_string_value(json_object_get(c->body, "reason"));
	/* Only a session the recorder knows as closed is a conflict; what the workers sent
	 * before this request is written first, so that a session opened a moment ago is
	 * known (ops.kill relies on both: it answers an unknown session). */
	flush_events(c);
	if (c->a->rec && rec_session(c->a->rec, sid, &s) == 0 && session_closed(s)) {
		json_decref(s);
		api_reply_error(c->rs, 409, "session %s is already closed", c->id);
		return;
	}
	json_decref(s);
	int rc = c->a->ops.kill(c->a->ops.ctx, sid, err, sizeof(err));

	audit(c, "session.kill", json_pack("{s:s,s:s*,s:s,s:o*}", "session", c->id,
					   "reason", reason, "result", rc == 0 ? "ok" : "error",
					   "error", rc == 0 ? NULL : api_json_string(err)));
	if (rc != 0) {
		api_reply_error(c->rs, 404, "%s", err[0] ? err : "no live session with this id");
		return;
	}
	api_reply_json(c->rs, 200, json_pack("{s:s,s:b}", "session", c->id, "killed", 1));
}

static void h_rules_get(struct api_call *c)
{
	if (need_op(c, c->a->ops.rules_get, "rules") == 0)
		api_reply_json(c->rs, 200, c->a->ops.rules_get(c->a->ops.ctx));
}

/* Checks the files of a PUT /v1/rules body and lists them (name, bytes, sha256) for the
 * audit record in <list>. Returns 0, or -1 after answering 400. */
static int check_rule_files(struct api_response *rs, json_t *files, json_t *list)
{
	static const struct api_field fields[] = {
		{ "name", JSON_STRING, 1 }, { "text", JSON_STRING, 1 }, { NULL, 0, 0 },
	};
	size_t i, n = json_array_size(files);
	json_t *file;
	char where[32];

	if (n == 0 || n > TG_RULE_FILES_MAX) {
		api_reply_error(rs, 400, "'files' must hold 1 to %d files", TG_RULE_FILES_MAX);
		return -1;
	}
	json_array_foreach(files, i, file) {
		uint8_t h[32];
		unsigned hl = sizeof(h);
		char hex[65];

		snprintf(where, sizeof(where), "files[%zu].", i);
		if (check_fields(rs, file, where, fields))
			return -1;
		const char *name = json_string_value(json_object_get(file, "name"));
		json_t *text = json_object_get(file, "text");

		if (!tg_rule_file_name_ok(name)) {
			api_reply_error(rs, 400, "%sname '%.64s' is not a file name (letters, "
					"digits, '.', '_', '-'; not starting with '.')", where,
					name);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(name, json_string_value(json_object_get(
					json_array_get(files, k), "name"))) == 0) {
				api_reply_error(rs, 400, "file '%s' given twice", name);
				return -1;
			}
		if (EVP_Digest(json_string_value(text), json_string_length(text), h, &hl,
			       EVP_sha256(), NULL) != 1)
			memset(h, 0, sizeof(h));
		for (unsigned k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", h[k]);
		json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "name", name, "bytes",
						      (json_int_t)json_string_length(text),
						      "sha256", hex));
	}
	return 0;
}

static void h_rules_put(struct api_call *c)
{
	static const struct api_field fields[] = {
		{ "files", JSON_ARRAY, 1 }, { "if_version", JSON_INTEGER, 0 },
		{ "comment", JSON_STRING, 0 }, { NULL, 0, 0 },
	};
	char err[API_ERR_MAX] = "";
	json_t *list, *result = NULL, *iv;
	int rc;

	if (need_op(c, c->a->ops.rules_put, "rules") || check_fields(c->rs, c->body, "", fields))
		return;
	list = json_array();
	if (!list || check_rule_files(c->rs, json_object_get(c->body, "files"), list)) {
		json_decref(list);
		if (!list)
			api_reply_error(c->rs, 500, "out of memory");
		return;
	}
	/* Optimistic concurrency: two admins editing the same version do not overwrite
	 * each other silently. */
	if ((iv = json_object_get(c->body, "if_version")) && c->a->ops.rules_get) {
		json_t *cur = c->a->ops.rules_get(c->a->ops.ctx);
		json_t *ver = json_object_get(cur, "version");

		if (json_is_integer(ver) && json_integer_value(ver) != json_integer_value(iv)) {
			api_reply_error(c->rs, 409, "the rules are at version %lld, not %lld",
					(long long)json_integer_value(ver),
					(long long)json_integer_value(iv));
			json_decref(cur);
			json_decref(list);
			return;
		}
		json_decref(cur);
	}
	rc = c->a->ops.rules_put(c->a->ops.ctx, c->body, &result, err, sizeof(err));
	json_t *d = json_pack("{s:o,s:s*,s:s}", "files", list, "comment",
			      json_string_value(json_object_get(c->body, "comment")),
			      "result", rc == 0 ? "ok" : "error");

	if (d && rc == 0 && json_is_object(result) && json_object_get(result, "version"))
		json_object_set(d, "version", json_object_get(result, "version"));
	if (d && rc != 0)
		json_object_set_new(d, "error", api_json_string(err));
	audit(c, "rules.put", d);
	if (rc != 0) {
		json_decref(result);
		api_reply_error(c->rs, 422, "%s", err[0] ? err : "the rules were not accepted");
		return;
	}
	api_reply_json(c->rs, 200, result ? result : json_pack("{s:b}", "ok", 1));
}

/* Checks that every element of <arr> is a string (or, with <nulls>, null). */
static int all_strings(json_t *arr, int nulls)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!json_is_string(v) && !(nulls && json_is_null(v)))
			return 0;
	return 1;
}

static void h_rules_test(struct api_call *c)
{
	static const struct api_field fields[] = {
		{ "sql", JSON_STRING, 0 }, { "row", JSON_ARRAY, 0 }, { "columns", JSON_ARRAY, 0 },
		{ "resource", JSON_STRING, 0 }, { "protocol", JSON_STRING, 0 }, { NULL, 0, 0 },
	};
	char err[API_ERR_MAX] = "";
	json_t *result = NULL, *row, *cols;

	if (need_op(c, c->a->ops.rules_test, "rules test") ||
	    check_fields(c->rs, c->body, "", fields))
		return;
	row = json_object_get(c->body, "row");
	cols = json_object_get(c->body, "columns");
	if (!json_object_get(c->body, "sql") == !row) {
		api_reply_error(c->rs, 400, "give either 'sql' or 'row'");
		return;
	}
	if (cols && !row) {
		api_reply_error(c->rs, 400, "'columns' goes with 'row'");
		return;
	}
	if (row && (!all_strings(row, 1) || (cols && !all_strings(cols, 0)))) {
		api_reply_error(c->rs, 400, "'row' holds strings or nulls, 'columns' strings");
		return;
	}
	if (cols && json_array_size(cols) != json_array_size(row)) {
		api_reply_error(c->rs, 400, "'columns' and 'row' differ in length (%zu, %zu)",
				json_array_size(cols), json_array_size(row));
		return;
	}
	if (c->a->ops.rules_test(c->a->ops.ctx, c->body, &result, err, sizeof(err)) != 0) {
		json_decref(result);
		api_reply_error(c->rs, 422, "%s", err[0] ? err : "the test could not run");
		return;
	}
	api_reply_json(c->rs, 200, result);
}

static void h_audit(struct api_call *c)
{
	uint64_t limit;
	json_t *list;

	if (need_rec(c) || query_uint(c, "limit", 1, API_LIST_MAX, API_LIST_DEF, &limit))
		return;
	if (rec_audit_list(c->a->rec, (unsigned)limit, &list) != 0 || !list) {
		api_reply_error(c->rs, 500, "reading the audit log failed");
		return;
	}
	api_reply_json(c->rs, 200, json_pack("{s:o}", "audit", list));
}

/* ---- the table (docs/openapi.yaml describes the same; test_api.c checks they agree) ---- */

static const char *const p_sessions[] = {
	"since", "until", "resource", "user", "verdict", "live", "limit", "before", NULL,
};
static const char *const p_events[] = { "from", "limit", NULL };
static const char *const p_limit[] = { "limit", NULL };

static const struct api_route routes[] = {
	{ "/v1/health", API_M_GET, 0, API_BODY_NONE, NULL, h_health },
	{ "/v1/stats", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, NULL, h_stats },
	{ "/metrics", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, NULL, h_metrics },
	{ "/v1/sessions", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, p_sessions, h_sessions },
	{ "/v1/sessions/{id}", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, NULL, h_session },
	{ "/v1/sessions/{id}/events", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, p_events,
	  h_events },
	{ "/v1/sessions/{id}/kill", API_M_POST, API_ROLE_ADMIN, API_BODY_OPTIONAL, NULL, h_kill },
	{ "/v1/rules", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, NULL, h_rules_get },
	{ "/v1/rules", API_M_PUT, API_ROLE_ADMIN, API_BODY_REQUIRED, NULL, h_rules_put },
	{ "/v1/rules/test", API_M_POST, API_ROLE_AUDITOR, API_BODY_REQUIRED, NULL, h_rules_test },
	{ "/v1/audit", API_M_GET, API_ROLE_AUDITOR, API_BODY_NONE, p_limit, h_audit },
};

const struct api_route *api_routes(unsigned *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}
