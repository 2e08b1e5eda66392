/* fuzz_api.c - libFuzzer target: the management API's request core (api_handle) on any
 * method, path and query, Authorization header and body, with fake daemon operations and
 * a fake recorder, checking that every answer is well-formed.
 *
 * Input: byte 0 picks the method, byte 1 the credentials (none, a token of each role, or
 * a raw header taken from the input), then the target up to '\n' ("@N..." stands for
 * route N's path with "..." after it, which helps the fuzzer reach the handlers), then,
 * for a raw header, the header up to '\n'; the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tg_log.h"
#include "mgmt/api_int.h"
#include "slowpath/recorder.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char *const tokens[] = {
	NULL, "Bearer fz-admin", "Bearer fz-approver", "Bearer fz-auditor", "Bearer fz-user",
	"Bearer unknown", "Basic abc",
};
#define N_TOKENS (sizeof(tokens) / sizeof(tokens[0]))
#define RAW_AUTH N_TOKENS                 /* byte 1 value: the header comes from the input */

static const char *const paths[] = {
	"/v1/health", "/v1/stats", "/metrics", "/v1/sessions", "/v1/sessions/0003010000000001",
	"/v1/sessions/0003010000000001/events", "/v1/sessions/0003010000000001/kill",
	"/v1/rules", "/v1/rules/test", "/v1/audit", "/v1/sessions/0003010000000002/kill",
};
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))

/* ---- a fake recorder: canned records, enough to reach every branch of the routes ---- */

struct rec {
	struct rec_stats st;
};

static struct rec fake_rec;

static json_t *session_json(uint64_t sid, int closed)
{
	char id[17];

	rec_sid_str(sid, id);
	return json_pack("{s:s,s:I,s:o}", "id", id, "opened", (json_int_t)1700000000,
			 "closed", closed ? json_integer(1700000100) : json_null());
}

int rec_sessions(struct rec *r, const struct rec_filter *f, json_t **out)
{
	unsigned n = (f->limit ? f->limit : 100) % 7;   /* sometimes a full page */

	if (f->user && strcmp(f->user, "fail") == 0) {
		*out = NULL;
		return -1;
	}
	*out = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(*out, session_json(0x0003010000000001ull + i, i & 1));
	return 0;
}

int rec_session(struct rec *r, uint64_t sid, json_t **out)
{
	*out = NULL;
	if ((sid & 0xff) > 4)
		return -1;
	*out = session_json(sid, (sid & 1) == 0);
	return 0;
}

int rec_events(struct rec *r, uint64_t sid, uint32_t from, uint32_t limit, json_t **out)
{
	*out = NULL;
	if ((sid & 0xff) > 4)
		return -1;
	*out = json_array();
	for (uint32_t i = from; i < 12 && i - from < limit; i++)
		json_array_append_new(*out, json_pack("{s:i,s:s}", "seq", (int)i, "type",
						      "command"));
	return 0;
}

int rec_audit(struct rec *r, const char *who, const char *action, json_t *detail)
{
	CHECK(who && action);
	return 0;
}

int rec_audit_list(struct rec *r, unsigned limit, json_t **out)
{
	*out = json_pack("[{s:s,s:s}]", "who", "fz-admin", "action", "rules.put");
	return 0;
}

const struct rec_stats *rec_stats(const struct rec *r)
{
	return &r->st;
}

void rec_sid_str(uint64_t sid, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)sid);
}

int rec_sid_parse(const char *s, uint64_t *sid)
{
	char *end;

	if (strlen(s) != 16)
		return -1;
	*sid = strtoull(s, &end, 16);
	return *end ? -1 : 0;
}

/* ---- fake daemon operations ---- */

static json_t *f_health(void *ctx) { return json_pack("{s:s}", "status", "ok"); }
static json_t *f_stats(void *ctx) { return json_pack("{s:i}", "rx", 1); }
static char *f_metrics(void *ctx) { return strdup("tollgate_up 1"); }

static int f_kill(void *ctx, uint64_t sid, char *err, size_t errlen)
{
	if (sid & 2) {
		snprintf(err, errlen, "no live session \xff");   /* not UTF-8 on purpose */
		return -1;
	}
	return 0;
}

static json_t *f_rules_get(void *ctx) { return json_pack("{s:i,s:[]}", "version", 3, "files"); }

static int f_rules_put(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	CHECK(json_is_array(json_object_get(body, "files")));
	if (json_object_get(body, "comment")) {
		snprintf(err, errlen, "line 1: nope");
		return -1;
	}
	*result = json_pack("{s:i}", "version", 4);
	return 0;
}

static int f_rules_test(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	CHECK(!json_object_get(body, "sql") != !json_object_get(body, "row"));
	if (json_object_get(body, "resource"))
		return -1;
	*result = json_pack("{s:s}", "action", "allow");
	return 0;
}

static struct api *api;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct {
		const char *name, *token;
		uint8_t role;
	} t[] = {
		{ "a", "fz-admin", API_ROLE_ADMIN }, { "p", "fz-approver", API_ROLE_APPROVER },
		{ "u", "fz-auditor", API_ROLE_AUDITOR }, { "s", "fz-user", API_ROLE_USER },
	};
	static const struct api_ops ops = {
		.health = f_health, .stats = f_stats, .metrics = f_metrics, .kill = f_kill,
		.rules_get = f_rules_get, .rules_put = f_rules_put, .rules_test = f_rules_test,
	};
	struct api_config cfg = { .max_body = 2048 };
	char err[256];

	tg_log_set_level(TG_LOG_ERROR);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(cfg.tokens[i].name, sizeof(cfg.tokens[i].name), "%s", t[i].name);
		cfg.tokens[i].role = t[i].role;
		api_token_hash(t[i].token, cfg.tokens[i].sha256);
	}
	cfg.n_tokens = 4;
	if (api_core_new(&cfg, &ops, &fake_rec, &api, err, sizeof(err)) != 0)
		abort();
	return 0;
}

/* Copies the bytes up to '\n' (or the end) from <*p> into a new string; advances <*p>. */
static char *take_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = 0;
	*p += n + (nl ? 1 : 0);
	return s;
}

/* Checks the promises of api_handle about <rs> for request <rq>. */
static void check(const struct api_request *rq, const struct api_response *rs)
{
	static const int statuses[] = { 200, 400, 401, 403, 404, 405, 409, 413, 422, 500, 503 };
	int known = 0;

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known |= rs->status == statuses[i];
	CHECK(known);
	CHECK(rs->content_type && rs->body && rs->body[rs->body_len] == 0);
	CHECK((rs->status == 401) == (rs->www_authenticate != NULL));
	CHECK((rs->status == 405) == (rs->allow != NULL));
	if (strcmp(rs->content_type, "application/json") == 0) {
		json_t *j = json_loadb(rs->body, rs->body_len, JSON_DECODE_ANY, NULL);

		CHECK(j);
		if (rs->status >= 400)
			CHECK(json_object_size(j) == 1 &&
			      json_is_string(json_object_get(j, "error")));
		json_decref(j);
	} else {
		CHECK(rs->status == 200);
	}
	/* a body over the limit never reaches a handler */
	if (rq->body_len > 2048)
		CHECK(rs->status != 200);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 2, *end = data + size;
	struct api_request rq = { 0 };
	struct api_response rs;
	char *line, *target, *authz = NULL;

	if (size < 2)
		return 0;
	rq.method = data[0] % 8;
	line = take_line(&p, end);
	if (line[0] == '@' && line[1] >= '0' && line[1] <= '9') {
		const char *base = paths[(unsigned)(line[1] - '0') % N_PATHS];

		target = malloc(strlen(base) + strlen(line) + 1);
		if (!target)
			abort();
		sprintf(target, "%s%s", base, line + 2);
		free(line);
	} else {
		target = line;
	}
	rq.target = target;
	if (data[1] % (N_TOKENS + 1) == RAW_AUTH)
		rq.authorization = authz = take_line(&p, end);
	else
		rq.authorization = tokens[data[1] % (N_TOKENS + 1)];
	/* The body on the heap at its exact size, so that ASan sees a read past it. */
	rq.body_len = (size_t)(end - p);
	char *body = rq.body_len ? malloc(rq.body_len) : NULL;

	if (body)
		memcpy(body, p, rq.body_len);
	rq.body = body;
	api_handle(api, &rq, &rs);
	check(&rq, &rs);
	api_response_free(&rs);
	free(body);
	free(authz);
	free(target);
	return 0;
}
