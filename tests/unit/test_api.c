/* test_api.c - the REST management API over real HTTPS (libcurl against evhttp on a private
 * event_base stepped from the test): the auth matrix of every route, the routes documented
 * in docs/openapi.yaml, errors (400/401/403/404/405/409/413/422/503), sessions, events and
 * audit from a real recorder, the self-signed certificate and TLS versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <arpa/inet.h>
#include "common/tg_rule_files.h"
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/tg_log.h"
#include "mgmt/api.h"
#include "mgmt/api_int.h"         /* white box: api_port, api_handle, api_routes */
#include "rules/rule-t.h"
#include "slowpath/recorder.h"

#define MAX_BODY  4096u
#define T0_NS     1700000000000000000ull  /* 2023-11-14T22:13:20Z */
#define SEC_NS    1000000000ull

/* ---- fake daemon: canned answers, calls recorded ---------------------------------- */

struct fake {
	unsigned health, stats, metrics, kill, rules_get, rules_put, rules_test;
	unsigned flush;               /* calls of the flush op */
	int pending;                  /* a session the next flush writes (sid[5]) */
	uint64_t killed_sid;          /* the last sid passed to kill */
	uint64_t live_sid;            /* the only sid kill accepts */
	int version;                  /* rules version, +1 per accepted PUT */
};

static json_t *f_health(void *ctx)
{
	((struct fake *)ctx)->health++;
	return json_pack("{s:s,s:i}", "status", "ok", "workers", 2);
}

static json_t *f_stats(void *ctx)
{
	((struct fake *)ctx)->stats++;
	return json_pack("{s:{s:i},s:[{s:i}]}", "total", "rx_packets", 42, "workers",
			 "rx_packets", 42);
}

static char *f_metrics(void *ctx)
{
	((struct fake *)ctx)->metrics++;
	return strdup("# HELP tollgate_rx_packets_total Packets received.\n"
		      "# TYPE tollgate_rx_packets_total counter\n"
		      "tollgate_rx_packets_total 42\n");
}

static int f_kill(void *ctx, uint64_t sid, char *err, size_t errlen)
{
	struct fake *f = ctx;

	f->kill++;
	f->killed_sid = sid;
	if (sid != f->live_sid) {
		snprintf(err, errlen, "no live session %016llx", (unsigned long long)sid);
		return -1;
	}
	return 0;
}

static json_t *f_rules_get(void *ctx)
{
	struct fake *f = ctx;

	f->rules_get++;
	return json_pack("{s:i,s:[{s:s,s:s}]}", "version", f->version, "files", "name",
			 "base.conf", "text", "rule no-ddl { block; }\n");
}

/* Accepts any files but one named "bad.conf", which "does not compile". */
static int f_rules_put(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	struct fake *f = ctx;
	json_t *files = json_object_get(body, "files"), *file;
	size_t i;

	f->rules_put++;
	json_array_foreach(files, i, file)
		if (strcmp(json_string_value(json_object_get(file, "name")), "bad.conf") == 0) {
			snprintf(err, errlen, "bad.conf:1: unknown action 'blok'");
			return -1;
		}
	*result = json_pack("{s:i,s:i}", "version", ++f->version, "rules", (int)i);
	return 0;
}

static int f_rules_test(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	const char *res = json_string_value(json_object_get(body, "resource"));

	((struct fake *)ctx)->rules_test++;
	if (res && strcmp(res, "nope") == 0) {
		snprintf(err, errlen, "unknown resource 'nope'");
		return -1;
	}
	*result = json_pack("{s:i,s:[{s:s,s:s}]}", "policy_version", 7, "statements", "action",
			    "block", "rule", "no-ddl");
	return 0;
}

/* ---- the fixture: recorder, API, curl ------------------------------------------- */

static struct {
	char dir[64];                 /* temporary directory */
	char state[128];              /* the API's state directory */
	char cert[192];               /* the generated certificate */
	struct event_base *base;
	struct rec *rec;
	struct api *api;
	struct api_config cfg;
	struct fake fake;
	struct api_ops ops;
	CURLM *multi;
	uint64_t sid[6];              /* recorded sessions, oldest first; sid[1] is live;
	                               * sid[5] is written by the flush op when pending */
} F;

static const struct {
	const char *name, *token;
	int role;
} tokens[] = {
	{ "ops-admin", "admin-secret-token", API_ROLE_ADMIN },
	{ "jit-approver", "approver-secret-token", API_ROLE_APPROVER },
	{ "siem-auditor", "auditor-secret-token", API_ROLE_AUDITOR },
	{ "someone", "user-secret-token", API_ROLE_USER },
};
#define T_ADMIN    "admin-secret-token"
#define T_AUDITOR  "auditor-secret-token"

static const char *token_of(int role)
{
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		if (tokens[i].role == role)
			return tokens[i].token;
	return NULL;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void ev_base(struct tg_event *e, uint8_t type, uint64_t sid, uint64_t ts)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->sid = sid;
	e->ts_ns = ts;
	e->proto = 1;
}

/* Records session <i>: open, auth, <ncmd> commands (the second one blocked if <block>),
 * and a close unless <live>. Returns the events written. */
static unsigned record_session(unsigned i, unsigned ncmd, int block, int live)
{
	struct tg_event ev[16];
	uint64_t sid = F.sid[i], t = T0_NS + i * 100 * SEC_NS;
	unsigned n = 0;

	ev_base(&ev[n], EV_SESSION_OPEN, sid, t);
	ev[n].u.open.ip_ver = 4;
	ev[n].u.open.client[0] = htonl(0xc6120001); /* 198.18.0.1 */
	ev[n].u.open.server[0] = htonl(0xc6120002);
	ev[n].u.open.cport = (uint16_t)(50000 + i);
	ev[n++].u.open.sport = 5432;
	ev_base(&ev[n], EV_AUTH, sid, t + 1);
	snprintf(ev[n].u.auth.user, EV_NAME_MAX, i == 0 ? "alice" : "bob");
	snprintf(ev[n++].u.auth.database, EV_NAME_MAX, "shop");
	for (unsigned k = 0; k < ncmd; k++) {
		ev_base(&ev[n], EV_COMMAND, sid, t + 2 + k);
		ev[n].u.cmd.action = block && k == 1 ? RULE_BLOCK : RULE_ALLOW;
		snprintf(ev[n].u.cmd.text, EV_TEXT_MAX, k == 1 && block ? "DROP TABLE users"
								       : "SELECT %u", k);
		ev[n].u.cmd.len = (uint32_t)strlen(ev[n].u.cmd.text);
		if (block && k == 1)
			snprintf(ev[n].u.cmd.rule, EV_NAME_MAX, "no-ddl");
		n++;
	}
	if (!live) {
		ev_base(&ev[n], EV_SESSION_CLOSE, sid, t + 50 * SEC_NS);
		ev[n++].u.close.reason = EV_CLOSE_FIN;
	}
	assert_int_equal(rec_write(F.rec, ev, n), (int)n);
	return n;
}

/* The daemon's flush writes what its workers' rings hold: here, the pending session. */
static void f_flush(void *ctx)
{
	struct fake *f = ctx;

	f->flush++;
	if (f->pending) {
		f->pending = 0;
		record_session(5, 1, 0, 1);
	}
}

static int group_setup(void **state)
{
	static const char *const resources[] = { "shop-db" };
	char err[256], rdir[128];

	tg_log_set_level(TG_LOG_ERROR);
	snprintf(F.dir, sizeof(F.dir), "/tmp/tg-test-api-XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	snprintf(F.state, sizeof(F.state), "%s/state", F.dir);
	snprintf(F.cert, sizeof(F.cert), "%s/api-cert.pem", F.state);
	snprintf(rdir, sizeof(rdir), "%s/rec", F.dir);
	if (mkdir(rdir, 0700) != 0 || rec_open(rdir, 64ull << 20, 0, &F.rec, err, sizeof(err))) {
		fprintf(stderr, "rec_open: %s\n", err);
		return -1;
	}
	rec_set_resources(F.rec, resources, 1);
	for (unsigned i = 0; i < 6; i++)
		F.sid[i] = (uint64_t)rec_boot(F.rec) << 48 | (uint64_t)1 << 40 | (i + 1);
	record_session(0, 3, 1, 0);   /* 6 events, one command blocked, closed */
	record_session(1, 2, 0, 1);   /* live */
	for (unsigned i = 2; i < 5; i++)
		record_session(i, 1, 0, 0);
	F.fake.live_sid = F.sid[1];
	F.fake.version = 7;

	F.ops = (struct api_ops){
		.ctx = &F.fake, .health = f_health, .stats = f_stats, .metrics = f_metrics,
		.kill = f_kill, .rules_get = f_rules_get, .rules_put = f_rules_put,
		.rules_test = f_rules_test, .flush = f_flush,
	};
	snprintf(F.cfg.listen, sizeof(F.cfg.listen), "127.0.0.1:0");
	snprintf(F.cfg.state_dir, sizeof(F.cfg.state_dir), "%s", F.state);
	F.cfg.max_body = MAX_BODY;
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct api_token *t = &F.cfg.tokens[F.cfg.n_tokens++];

		snprintf(t->name, sizeof(t->name), "%s", tokens[i].name);
		t->role = (uint8_t)tokens[i].role;
		api_token_hash(tokens[i].token, t->sha256);
	}
	F.base = event_base_new();
	if (!F.base || api_start(F.base, &F.cfg, &F.ops, F.rec, &F.api, err, sizeof(err)) != 0) {
		fprintf(stderr, "api_start: %s\n", err);
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(F.multi = curl_multi_init()))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	curl_multi_cleanup(F.multi);
	api_stop(F.api);
	event_base_free(F.base);
	rec_close(F.rec);
	curl_global_cleanup();
	return nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- HTTPS client --------------------------------------------------------------- */

struct reply {
	CURLcode rc;                  /* the transfer's result */
	long status;
	char *body;
	size_t len;
	char ctype[128], www[160], allow[64];
	json_t *json;                 /* the body parsed, if it is JSON */
};

/* How a request is made beyond method, path, token and body. */
struct how {
	uint16_t port;                /* 0: the fixture's API */
	long tls_min, tls_max;        /* CURL_SSLVERSION_* (0: curl's default) */
	const char *cainfo;           /* NULL: the generated certificate */
	int fresh;                    /* a new connection */
	const char *authz;            /* a raw Authorization header instead of a token */
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->len += size * n;
	b[r->len] = 0;
	r->body = b;
	return size * n;
}

static void header_value(CURL *h, const char *name, char *out, size_t len)
{
	struct curl_header *hd;

	out[0] = 0;
	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
		snprintf(out, len, "%s", hd->value);
}

/* Runs <h> to its end, stepping the API's event loop in between (one thread, so the
 * fake ops need no locks). Bounded by count and, as a guard only, by time. */
static CURLcode run_transfer(CURL *h)
{
	struct timespec t0, t;
	CURLcode rc = CURLE_OPERATION_TIMEDOUT;
	int running = 1, left;
	CURLMsg *m;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	curl_multi_add_handle(F.multi, h);
	for (unsigned i = 0; i < 100000 && running; i++) {
		curl_multi_perform(F.multi, &running);
		event_base_loop(F.base, EVLOOP_NONBLOCK);
		if (!running)
			break;
		curl_multi_poll(F.multi, NULL, 0, 1, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 60)
			fail_msg("a request did not finish in 60 s");
	}
	while ((m = curl_multi_info_read(F.multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == h)
			rc = m->data.result;
	curl_multi_remove_handle(F.multi, h);
	return rc;
}

static void reply_free(struct reply *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Sends <method> <path> with bearer <token> (NULL: none) and <body> (<blen> bytes; -1:
 * strlen) and fills <r>. */
static void request_how(const struct how *how, const char *method, const char *path,
			const char *token, const char *body, long blen, struct reply *r)
{
	char url[512], auth[256];
	struct curl_slist *hdrs = NULL;
	CURL *h = curl_easy_init();

	assert_non_null(h);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s",
		 how && how->port ? how->port : api_port(F.api), path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, how && how->cainfo ? how->cainfo : F.cert);
	/* Verification stays on: the generated certificate must name 127.0.0.1. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (how && (how->tls_min || how->tls_max))
		curl_easy_setopt(h, CURLOPT_SSLVERSION, how->tls_min | how->tls_max);
	if (how && how->fresh) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, blen < 0 ? (long)strlen(body) : blen);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Expect:");
	}
	if (how && how->authz) {
		snprintf(auth, sizeof(auth), "Authorization: %s", how->authz);
		hdrs = curl_slist_append(hdrs, auth);
	} else if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	r->rc = run_transfer(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	header_value(h, "Content-Type", r->ctype, sizeof(r->ctype));
	header_value(h, "WWW-Authenticate", r->www, sizeof(r->www));
	header_value(h, "Allow", r->allow, sizeof(r->allow));
	if (r->body && strncmp(r->ctype, "application/json", 16) == 0)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

static void request(const char *method, const char *path, const char *token, const char *body,
		    struct reply *r)
{
	request_how(NULL, method, path, token, body, -1, r);
}

/* Asserts an error answer: <status>, JSON {"error": "..."} containing <needle>. */
static void assert_error(struct reply *r, long status, const char *needle)
{
	if (r->rc != CURLE_OK)
		fail_msg("transfer failed: %s", curl_easy_strerror(r->rc));
	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body ? r->body : "");
	assert_true(strncmp(r->ctype, "application/json", 16) == 0);
	assert_non_null(r->json);
	assert_int_equal(json_object_size(r->json), 1);
	const char *e = json_string_value(json_object_get(r->json, "error"));

	assert_non_null(e);
	if (needle && !strstr(e, needle))
		fail_msg("error '%s' does not contain '%s'", e, needle);
}

static void assert_ok(struct reply *r, long status)
{
	if (r->rc != CURLE_OK)
		fail_msg("transfer failed: %s", curl_easy_strerror(r->rc));
	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body ? r->body : "");
}

static const char *sid_str(unsigned i)
{
	static char buf[4][17];
	static unsigned k;
	char *b = buf[k++ % 4];

	rec_sid_str(F.sid[i], b);
	return b;
}

/* ---- the routes, as docs/openapi.yaml documents them ------------------------------- */

struct route_case {
	const char *method;
	const char *doc_path;         /* as in openapi.yaml */
	const char *role;             /* x-required-role */
	const char *path;             /* concrete: "%s" is the live session's id */
	const char *body;             /* a valid body, or NULL */
	long ok;                      /* status for a caller with the role */
	const char *keys[4];          /* top-level keys of the JSON answer */
};

static const struct route_case routes[] = {
	{ "GET", "/v1/health", "none", "/v1/health", NULL, 200, { "status" } },
	{ "GET", "/v1/stats", "auditor", "/v1/stats", NULL, 200, { NULL } },
	{ "GET", "/metrics", "auditor", "/metrics", NULL, 200, { NULL } },
	{ "GET", "/v1/sessions", "auditor", "/v1/sessions", NULL, 200, { "sessions", "next" } },
	{ "GET", "/v1/sessions/{id}", "auditor", "/v1/sessions/%s", NULL, 200, { "id", "opened" } },
	{ "GET", "/v1/sessions/{id}/events", "auditor", "/v1/sessions/%s/events", NULL, 200,
	  { "session", "events", "next" } },
	{ "POST", "/v1/sessions/{id}/kill", "admin", "/v1/sessions/%s/kill",
	  "{\"reason\":\"test\"}", 200, { "session", "killed" } },
	{ "GET", "/v1/rules", "auditor", "/v1/rules", NULL, 200, { "version", "files" } },
	{ "PUT", "/v1/rules", "admin", "/v1/rules",
	  "{\"files\":[{\"name\":\"a.conf\",\"text\":\"rule x { block; }\"}]}", 200,
	  { "version" } },
	{ "POST", "/v1/rules/test", "auditor", "/v1/rules/test", "{\"sql\":\"DROP TABLE t\"}", 200,
	  { "policy_version", "statements" } },
	{ "GET", "/v1/audit", "auditor", "/v1/audit", NULL, 200, { "audit" } },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *route_path(const struct route_case *rc, char *buf, size_t len)
{
	const char *id = strstr(rc->path, "%s");

	if (!id)
		snprintf(buf, len, "%s", rc->path);
	else
		snprintf(buf, len, "%.*s%s%s", (int)(id - rc->path), rc->path, sid_str(1), id + 2);
	return buf;
}

/* Lists (method, path, role) of docs/openapi.yaml's paths section: route lines are
 * "  /path:", method lines "    get:", then "      x-required-role: ROLE". */
static unsigned yaml_routes(char out[][3][64], unsigned max)
{
	char path[512], line[512], cur[64] = "";
	const char *root = getenv("TG_SRCDIR");
	unsigned n = 0;
	int in_paths = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/openapi.yaml", root ? root : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char word[64];

		line[strcspn(line, "\r\n")] = 0;
		if (line[0] && line[0] != ' ' && line[0] != '#') {
			in_paths = strcmp(line, "paths:") == 0;
			continue;
		}
		if (!in_paths)
			continue;
		if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
			snprintf(cur, sizeof(cur), "%.*s", (int)strlen(line) - 3, line + 2);
		} else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ' &&
			   sscanf(line + 4, "%63[a-z]:", word) == 1 && n < max &&
			   line[4 + strlen(word)] == ':' && !line[5 + strlen(word)]) {
			for (char *p = word; *p; p++)
				*p = (char)(*p - 'a' + 'A');
			snprintf(out[n][0], 64, "%s", word);
			snprintf(out[n][1], 64, "%s", cur);
			out[n][2][0] = 0;
			n++;
		} else if (n && sscanf(line, " x-required-role: %63s", word) == 1) {
			snprintf(out[n - 1][2], 64, "%s", word);
		}
	}
	fclose(f);
	return n;
}

static const char *method_str(int m)
{
	switch (m) {
	case API_M_GET:  return "GET";
	case API_M_POST: return "POST";
	case API_M_PUT:  return "PUT";
	default:         return "?";
	}
}

/* openapi.yaml, this file's table and the server's route table list the same routes
 * with the same roles. */
static void test_openapi_matches_routes(void **state)
{
	char y[64][3][64];
	unsigned ny = yaml_routes(y, 64), ns;
	const struct api_route *sr = api_routes(&ns);

	assert_int_equal(ny, N_ROUTES);
	assert_int_equal(ns, N_ROUTES);
	for (unsigned i = 0; i < N_ROUTES; i++) {
		const struct route_case *rc = &routes[i];
		int in_yaml = 0, in_server = 0;

		for (unsigned k = 0; k < ny; k++)
			if (!strcmp(y[k][0], rc->method) && !strcmp(y[k][1], rc->doc_path)) {
				in_yaml = 1;
				if (strcmp(y[k][2], rc->role) != 0)
					fail_msg("%s %s: yaml role %s, expected %s", rc->method,
						 rc->doc_path, y[k][2], rc->role);
			}
		for (unsigned k = 0; k < ns; k++)
			if (!strcmp(method_str(sr[k].method), rc->method) &&
			    !strcmp(sr[k].path, rc->doc_path)) {
				in_server = 1;
				assert_string_equal(api_role_name(sr[k].role), rc->role);
			}
		if (!in_yaml || !in_server)
			fail_msg("%s %s: in openapi.yaml %d, in the server %d", rc->method,
				 rc->doc_path, in_yaml, in_server);
	}
}

/* Every documented route answers an admin with its status and its documented keys. */
static void test_documented_routes_answer(void **state)
{
	char path[256];

	for (unsigned i = 0; i < N_ROUTES; i++) {
		const struct route_case *rc = &routes[i];
		struct reply r;

		request(rc->method, route_path(rc, path, sizeof(path)), T_ADMIN, rc->body, &r);
		if (r.rc != CURLE_OK || r.status != rc->ok)
			fail_msg("%s %s: %ld %s", rc->method, path, r.status, r.body ? r.body : "");
		if (strcmp(rc->doc_path, "/metrics") == 0) {
			assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
		} else {
			assert_non_null(r.json);
			assert_true(json_is_object(r.json));
			for (unsigned k = 0; k < 4 && rc->keys[k]; k++)
				if (!json_object_get(r.json, rc->keys[k]))
					fail_msg("%s %s: no key '%s' in %s", rc->method, path,
						 rc->keys[k], r.body);
		}
		reply_free(&r);
	}
}

/* No token: 401 with WWW-Authenticate; an unknown one: 401; a role too low: 403 (the
 * daemon is not called); the role and above: 2xx. For every route. */
static void test_auth_matrix(void **state)
{
	char path[256];

	for (unsigned i = 0; i < N_ROUTES; i++) {
		const struct route_case *rc = &routes[i];
		int need = api_role_parse(rc->role);
		struct reply r;

		route_path(rc, path, sizeof(path));
		request(rc->method, path, NULL, rc->body, &r);
		if (need < 0) {
			assert_ok(&r, rc->ok);
			reply_free(&r);
			continue;
		}
		assert_error(&r, 401, "token");
		assert_true(strncmp(r.www, "Bearer", 6) == 0);
		reply_free(&r);

		request(rc->method, path, "not-a-token-anyone-has", rc->body, &r);
		assert_error(&r, 401, "unknown");
		assert_non_null(strstr(r.www, "invalid_token"));
		reply_free(&r);

		for (int role = API_ROLE_USER; role <= API_ROLE_ADMIN; role++) {
			struct fake before = F.fake;

			request(rc->method, path, token_of(role), rc->body, &r);
			if (role < need) {
				assert_error(&r, 403, api_role_name(need));
				assert_int_equal(F.fake.kill, before.kill);
				assert_int_equal(F.fake.rules_put, before.rules_put);
				assert_int_equal(F.fake.rules_test, before.rules_test);
			} else if (r.status != rc->ok) {
				fail_msg("%s %s as %s: %ld %s", rc->method, path,
					 api_role_name(role), r.status, r.body ? r.body : "");
			}
			reply_free(&r);
		}
	}
}

static void test_bearer_parsing(void **state)
{
	static const char *const bad[] = {
		"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Bearer  ", "Bearertoken",
		"Bearer admin-secret-token extra", "bearer admin-secret-toke",
	};
	struct how how = { 0 };
	struct reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		how.authz = bad[i];
		request_how(&how, "GET", "/v1/stats", NULL, NULL, -1, &r);
		assert_int_equal(r.status, 401);
		reply_free(&r);
	}
	/* The scheme is case-insensitive, spaces around the token are allowed. */
	how.authz = "bEaReR   auditor-secret-token  ";
	request_how(&how, "GET", "/v1/stats", NULL, NULL, -1, &r);
	assert_ok(&r, 200);
	reply_free(&r);
}

static void test_errors_route_and_method(void **state)
{
	struct reply r;

	request("GET", "/v1/nothing", T_ADMIN, NULL, &r);
	assert_error(&r, 404, "no route");
	reply_free(&r);
	request("GET", "/v1/sessions/", T_ADMIN, NULL, &r);
	assert_error(&r, 404, NULL);
	reply_free(&r);
	request("GET", "/", NULL, NULL, &r);
	assert_error(&r, 404, NULL);
	reply_free(&r);

	request("DELETE", "/v1/rules", T_ADMIN, NULL, &r);
	assert_error(&r, 405, "DELETE");
	assert_string_equal(r.allow, "GET, HEAD, PUT");
	reply_free(&r);
	request("GET", "/v1/rules/test", T_ADMIN, NULL, &r);
	assert_error(&r, 405, NULL);
	assert_string_equal(r.allow, "POST");
	reply_free(&r);
	request("PATCH", "/v1/health", NULL, "{}", &r);
	assert_error(&r, 405, NULL);
	reply_free(&r);

	/* HEAD: the status and headers of GET, no body. */
	request("HEAD", "/v1/health", NULL, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	/* and the connection is still usable after it */
	request("GET", "/v1/health", NULL, NULL, &r);
	assert_ok(&r, 200);
	reply_free(&r);
}

static void test_errors_body(void **state)
{
	struct reply r;
	char *big;
	unsigned puts = F.fake.rules_put;

	request("PUT", "/v1/rules", T_ADMIN, "{\"files\": [", &r);
	assert_error(&r, 400, "malformed JSON");
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "line 1"));
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN, "[1,2]", &r);
	assert_error(&r, 400, "object");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN, "{\"files\":[],\"files\":[]}", &r);
	assert_error(&r, 400, "duplicate");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN, NULL, &r);
	assert_error(&r, 400, "required");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN,
		"{\"files\":[{\"name\":\"a.conf\",\"text\":\"\"}],\"fiels\":1}", &r);
	assert_error(&r, 400, "unknown field 'fiels'");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN,
		"{\"files\":[{\"name\":\"a.conf\",\"text\":\"\",\"mode\":1}]}", &r);
	assert_error(&r, 400, "unknown field 'files[0].mode'");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN, "{\"files\":[{\"name\":\"../x\",\"text\":\"\"}]}", &r);
	assert_error(&r, 400, "not a file name");
	reply_free(&r);
	/* the daemon's limits (common/tg_rule_files.h): 100 characters, 32 files; the API
	 * once let through 128 and 256, which the daemon then refused */
	{
		char body[4096], name[128];
		int o;

		memset(name, 'n', 101);
		name[101] = 0;
		snprintf(body, sizeof(body), "{\"files\":[{\"name\":\"%s\",\"text\":\"\"}]}", name);
		request("PUT", "/v1/rules", T_ADMIN, body, &r);
		assert_error(&r, 400, "not a file name");
		reply_free(&r);
		o = snprintf(body, sizeof(body), "{\"files\":[");
		for (int k = 0; k < TG_RULE_FILES_MAX + 1; k++)
			o += snprintf(body + o, sizeof(body) - (size_t)o, "%s{\"name\":\"f%d\",\"text\":\"\"}",
				      k ? "," : "", k);
		snprintf(body + o, sizeof(body) - (size_t)o, "]}");
		request("PUT", "/v1/rules", T_ADMIN, body, &r);
		assert_error(&r, 400, "1 to 32 files");
		reply_free(&r);
	}
	request("PUT", "/v1/rules", T_ADMIN, "{\"files\":[{\"name\":\"a\",\"text\":\"\"},"
		"{\"name\":\"a\",\"text\":\"\"}]}", &r);
	assert_error(&r, 400, "twice");
	reply_free(&r);
	request("PUT", "/v1/rules", T_ADMIN, "{\"files\":[{\"name\":\"a\",\"text\":5}]}", &r);
	assert_error(&r, 400, "must be a string");
	reply_free(&r);
	request("GET", "/v1/stats", T_ADMIN, "{}", &r);
	assert_error(&r, 400, "no request body");
	reply_free(&r);
	assert_int_equal(F.fake.rules_put, puts);

	/* One byte over max_body: the core's JSON 413. */
	big = malloc(300000);
	assert_non_null(big);
	memset(big, ' ', 300000);
	big[0] = '{';
	big[MAX_BODY] = '}';
	request_how(NULL, "PUT", "/v1/rules", T_ADMIN, big, MAX_BODY + 1, &r);
	assert_error(&r, 413, "at most 4096");
	reply_free(&r);
	/* Exactly max_body is fine (and reaches the schema check). */
	big[MAX_BODY - 1] = '}';
	request_how(NULL, "PUT", "/v1/rules", T_ADMIN, big, MAX_BODY, &r);
	assert_error(&r, 400, "'files' is required");
	reply_free(&r);
	/* Far over: evhttp stops reading; still a 413, and the daemon is not called. */
	request_how(NULL, "PUT", "/v1/rules", T_ADMIN, big, 300000, &r);
	assert_int_equal(r.status, 413);
	reply_free(&r);
	free(big);
	assert_int_equal(F.fake.rules_put, puts);
}

static void test_query_errors(void **state)
{
	static const char *const bad[] = {
		"/v1/sessions?limit=0", "/v1/sessions?limit=1001", "/v1/sessions?limit=x",
		"/v1/sessions?limit=-1", "/v1/sessions?live=2", "/v1/sessions?verdict=maybe",
		"/v1/sessions?before=12", "/v1/sessions?since=yesterday",
		"/v1/sessions?since=2023-13-01T00:00:00Z", "/v1/sessions?limit=1&limit=2",
		"/v1/sessions?until=2600-01-01T00:00:00Z",  /* past 2^64 ns: wrapped around */
		"/v1/sessions?since=99999999999999999999",
		"/v1/sessions?color=red", "/v1/sessions?limit", "/v1/audit?limit=5000",
		"/v1/stats?x=1",
	};
	char path[128];
	struct reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request("GET", bad[i], T_ADMIN, NULL, &r);
		if (r.status != 400)
			fail_msg("%s: %ld %s", bad[i], r.status, r.body ? r.body : "");
		assert_error(&r, 400, NULL);
		reply_free(&r);
	}
	request("GET", "/v1/sessions/xyz", T_ADMIN, NULL, &r);
	assert_error(&r, 400, "16 hex digits");
	reply_free(&r);
	snprintf(path, sizeof(path), "/v1/sessions/%s/events?from=-1", sid_str(0));
	request("GET", path, T_ADMIN, NULL, &r);
	assert_error(&r, 400, "from");
	reply_free(&r);
}

/* ---- sessions, events, kill, audit with the real recorder ------------------------- */

static void test_sessions_list_filter_page(void **state)
{
	char path[256];
	struct reply r;
	json_t *list;

	request("GET", "/v1/sessions", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	list = json_object_get(r.json, "sessions");
	assert_int_equal(json_array_size(list), 5);
	/* newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    sid_str(4));
	assert_true(json_is_null(json_object_get(r.json, "next")));
	reply_free(&r);

	/* pages of 2: next is the cursor for ?before= */
	request("GET", "/v1/sessions?limit=2", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 2);
	assert_string_equal(json_string_value(json_object_get(r.json, "next")), sid_str(3));
	reply_free(&r);
	snprintf(path, sizeof(path), "/v1/sessions?limit=2&before=%s", sid_str(3));
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	list = json_object_get(r.json, "sessions");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    sid_str(2));
	reply_free(&r);

	request("GET", "/v1/sessions?verdict=block", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	list = json_object_get(r.json, "sessions");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    sid_str(0));
	reply_free(&r);

	request("GET", "/v1/sessions?live=1", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	list = json_object_get(r.json, "sessions");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    sid_str(1));
	reply_free(&r);

	/* since (RFC 3339) and until (ns): sessions 2 and 3 opened at T0+200 s and T0+300 s */
	snprintf(path, sizeof(path), "/v1/sessions?since=2023-11-14T22:16:40Z&until=%llu",
		 (unsigned long long)(T0_NS + 301 * SEC_NS));
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 2);
	reply_free(&r);
	/* the same instant with an offset and a fraction */
	request("GET", "/v1/sessions?since=2023-11-14T23:16:40.000%2B01:00", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 3);
	reply_free(&r);

	request("GET", "/v1/sessions?user=alice&resource=shop-db", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 1);
	reply_free(&r);
}

static void test_session_detail_and_events(void **state)
{
	char path[256];
	struct reply r;
	json_t *ev;

	snprintf(path, sizeof(path), "/v1/sessions/%s", sid_str(0));
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "id")), sid_str(0));
	assert_non_null(json_object_get(r.json, "opened"));
	reply_free(&r);

	request("GET", "/v1/sessions/00000000000000ff", T_AUDITOR, NULL, &r);
	assert_error(&r, 404, "no session");
	reply_free(&r);
	request("GET", "/v1/sessions/00000000000000ff/events", T_AUDITOR, NULL, &r);
	assert_error(&r, 404, "no session");
	reply_free(&r);

	/* session 0 has 6 events (open, auth, 3 commands, close): pages of 4 */
	snprintf(path, sizeof(path), "/v1/sessions/%s/events?limit=4", sid_str(0));
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	ev = json_object_get(r.json, "events");
	assert_int_equal(json_array_size(ev), 4);
	assert_string_equal(json_string_value(json_object_get(r.json, "session")), sid_str(0));
	assert_int_equal(json_integer_value(json_object_get(r.json, "next")),
			 json_integer_value(json_object_get(json_array_get(ev, 3), "seq")) + 1);
	json_int_t next = json_integer_value(json_object_get(r.json, "next"));
	reply_free(&r);
	snprintf(path, sizeof(path), "/v1/sessions/%s/events?limit=4&from=%lld", sid_str(0),
		 (long long)next);
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "events")), 2);
	assert_true(json_is_null(json_object_get(r.json, "next")));
	reply_free(&r);
}

/* Whether the audit log's newest records include <action> by <who>. */
static int audited(const char *action, const char *who, const char *result)
{
	struct reply r;
	size_t i;
	json_t *a;
	int found = 0;

	request("GET", "/v1/audit?limit=50", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	json_array_foreach(json_object_get(r.json, "audit"), i, a) {
		json_t *d = json_object_get(a, "detail");

		if (!strcmp(json_string_value(json_object_get(a, "action")) ?: "", action) &&
		    !strcmp(json_string_value(json_object_get(a, "who")) ?: "", who) &&
		    (!result || !strcmp(json_string_value(json_object_get(d, "result")) ?: "",
					result)))
			found = 1;
	}
	reply_free(&r);
	return found;
}

static void test_kill(void **state)
{
	char path[256];
	struct reply r;
	unsigned kills = F.fake.kill;

	snprintf(path, sizeof(path), "/v1/sessions/%s/kill", sid_str(1));
	request("POST", path, T_ADMIN, NULL, &r);
	assert_ok(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "killed")));
	assert_int_equal(F.fake.kill, kills + 1);
	assert_int_equal(F.fake.killed_sid, F.sid[1]);
	reply_free(&r);
	assert_true(audited("session.kill", "ops-admin", "ok"));

	request("POST", path, T_ADMIN, "{\"reason\":\"x\",\"force\":true}", &r);
	assert_error(&r, 400, "unknown field 'force'");
	reply_free(&r);

	/* a session the recorder knows as closed: 409, the daemon is not asked */
	snprintf(path, sizeof(path), "/v1/sessions/%s/kill", sid_str(0));
	request("POST", path, T_ADMIN, "{\"reason\":\"cleanup\"}", &r);
	assert_error(&r, 409, "already closed");
	reply_free(&r);
	assert_int_equal(F.fake.kill, kills + 1);

	/* one nobody knows: the daemon says no, 404, and the attempt is audited */
	request("POST", "/v1/sessions/0000000000000abc/kill", T_ADMIN, NULL, &r);
	assert_error(&r, 404, "no live session");
	reply_free(&r);
	assert_true(audited("session.kill", "ops-admin", "error"));
}

/* Reads of the recording and kills first have the daemon write what its workers sent
 * (api_ops.flush): a session opened a moment before the request, still in a worker's
 * ring, is found, not answered 404 (it used to wait for the next batch, 2 to 10 ms). */
static void test_reads_flush_first(void **state)
{
	char path[256];
	struct reply r;
	unsigned flushes = F.fake.flush;

	(void)state;
	snprintf(path, sizeof(path), "/v1/sessions/%s", sid_str(5));
	F.fake.pending = 1;
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "id")), sid_str(5));
	reply_free(&r);
	assert_int_equal(F.fake.flush, flushes + 1);
	snprintf(path, sizeof(path), "/v1/sessions/%s/events", sid_str(5));
	request("GET", path, T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	request("GET", "/v1/sessions?live=1", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	snprintf(path, sizeof(path), "/v1/sessions/%s/kill", sid_str(5));
	request("POST", path, T_ADMIN, NULL, &r);
	reply_free(&r);
	assert_int_equal(F.fake.flush, flushes + 4);
	/* a read that is refused before it reads anything does not flush */
	request("GET", "/v1/sessions/xyz", T_AUDITOR, NULL, &r);
	assert_error(&r, 400, NULL);
	reply_free(&r);
	assert_int_equal(F.fake.flush, flushes + 4);
}

static void test_rules(void **state)
{
	struct reply r;
	char body[256];
	int v;

	request("GET", "/v1/rules", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	v = (int)json_integer_value(json_object_get(r.json, "version"));
	reply_free(&r);

	/* a compile error: 422 with the compiler's message, audited */
	request("PUT", "/v1/rules", T_ADMIN, "{\"files\":[{\"name\":\"bad.conf\",\"text\":\"x\"}]}",
		&r);
	assert_error(&r, 422, "unknown action 'blok'");
	reply_free(&r);
	assert_true(audited("rules.put", "ops-admin", "error"));

	/* if_version: a stale one is a conflict */
	snprintf(body, sizeof(body), "{\"files\":[{\"name\":\"a.conf\",\"text\":\"\"}],"
		 "\"if_version\":%d}", v - 1);
	request("PUT", "/v1/rules", T_ADMIN, body, &r);
	assert_error(&r, 409, "version");
	reply_free(&r);
	snprintf(body, sizeof(body), "{\"files\":[{\"name\":\"a.conf\",\"text\":\"\"}],"
		 "\"if_version\":%d,\"comment\":\"tighten\"}", v);
	request("PUT", "/v1/rules", T_ADMIN, body, &r);
	assert_ok(&r, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), v + 1);
	reply_free(&r);
	assert_true(audited("rules.put", "ops-admin", "ok"));

	/* rules test */
	request("POST", "/v1/rules/test", T_AUDITOR,
		"{\"row\":[\"4111 1111 1111 1111\",null],\"columns\":[\"card\",\"note\"]}", &r);
	assert_ok(&r, 200);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(r.json, "statements"), 0), "action")), "block");
	reply_free(&r);
	request("POST", "/v1/rules/test", T_AUDITOR, "{\"sql\":\"x\",\"row\":[]}", &r);
	assert_error(&r, 400, "either");
	reply_free(&r);
	request("POST", "/v1/rules/test", T_AUDITOR, "{\"row\":[\"a\"],\"columns\":[]}", &r);
	assert_error(&r, 400, "length");
	reply_free(&r);
	request("POST", "/v1/rules/test", T_AUDITOR, "{\"row\":[1]}", &r);
	assert_error(&r, 400, "strings");
	reply_free(&r);
	request("POST", "/v1/rules/test", T_AUDITOR, "{\"sql\":\"x\",\"resource\":\"nope\"}", &r);
	assert_error(&r, 422, "unknown resource");
	reply_free(&r);
}

static void test_metrics(void **state)
{
	static const char *const want[] = {
		"tollgate_rx_packets_total 42\n",
		"# TYPE tollgate_recorder_events_written_total counter\n",
		"# HELP tollgate_recorder_batches_total ",
		"tollgate_recorder_write_errors_total 0\n",
		"tollgate_recorder_events_lost_total 0\n",
		"tollgate_recorder_sync_errors_total 0\n",
		"# TYPE tollgate_recorder_batch_seconds gauge\n",
		"tollgate_recorder_batch_seconds{stat=\"max\"} ",
		"tollgate_api_requests_total{code=\"2xx\"} ",
		"tollgate_api_auth_failures_total ",
	};
	struct reply r;

	request("GET", "/metrics", T_AUDITOR, NULL, &r);
	assert_ok(&r, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(r.body, want[i]))
			fail_msg("/metrics has no '%s':\n%s", want[i], r.body);
	/* every sample line's metric has HELP and TYPE lines */
	for (char *l = r.body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char name[128], help[160];

		if (*l == '#' || sscanf(l, "%127[a-z_]", name) != 1)
			continue;
		snprintf(help, sizeof(help), "# HELP %s ", name);
		assert_non_null(strstr(r.body, help));
		snprintf(help, sizeof(help), "# TYPE %s ", name);
		assert_non_null(strstr(r.body, help));
	}
	reply_free(&r);
}

/* ---- TLS and the certificate ---------------------------------------------------- */

static void test_tls_versions(void **state)
{
	struct how how = { .fresh = 1 };
	struct reply r;

	how.tls_min = CURL_SSLVERSION_TLSv1_3;
	how.tls_max = CURL_SSLVERSION_MAX_TLSv1_3;
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	how.tls_min = CURL_SSLVERSION_TLSv1_2;
	how.tls_max = CURL_SSLVERSION_MAX_TLSv1_2;
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	how.tls_min = CURL_SSLVERSION_TLSv1_0;
	how.tls_max = CURL_SSLVERSION_MAX_TLSv1_1;
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	reply_free(&r);
	/* and a certificate that is not the API's is refused by a verifying client */
	how = (struct how){ .fresh = 1, .cainfo = "/etc/ssl/certs/ca-certificates.crt" };
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	reply_free(&r);
}

/* Plain HTTP to the HTTPS port gets no HTTP answer: the TLS handshake fails and the
 * connection is closed; the API goes on serving. */
static void test_plain_http_refused(void **state)
{
	static const char req[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(api_port(F.api)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char buf[4096];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;
	struct reply r;

	assert_true(fd >= 0);
	/* loopback: connect completes from the listen backlog, before any accept */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	for (unsigned i = 0; i < 20000 && !closed; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		event_base_loop(F.base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) <= 0)
			continue;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			closed = 1;
	}
	close(fd);
	assert_true(closed);
	buf[got] = 0;
	assert_null(memmem(buf, got, "HTTP/", 5));
	request("GET", "/v1/health", NULL, NULL, &r);
	assert_ok(&r, 200);
	reply_free(&r);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(b);
	*len = fread(b, 1, 65535, f);
	fclose(f);
	return b;
}

/* The generated certificate: key 0600, reused by the next start; configured files work;
 * a bad path is an error naming it. */
static void test_cert_generated_once(void **state)
{
	char key[192], err[256], path[256];
	struct api_config cfg = F.cfg;
	struct api *b;
	struct stat st1, st2;
	size_t l1, l2;
	char *c1, *c2;
	struct reply r;
	struct how how = { .fresh = 1 };

	snprintf(key, sizeof(key), "%s/api-key.pem", F.state);
	assert_int_equal(stat(key, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0600);
	assert_int_equal(stat(F.cert, &st1), 0);
	c1 = slurp(F.cert, &l1);
	assert_non_null(strstr(c1, "BEGIN CERTIFICATE"));

	/* a second API on the same state directory reuses the files */
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(stat(F.cert, &st2), 0);
	c2 = slurp(F.cert, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);
	assert_int_equal(st1.st_ino, st2.st_ino);
	how.port = api_port(b);
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	/* without a recorder, the session and audit routes say so */
	request_how(&how, "GET", "/v1/sessions", T_ADMIN, NULL, -1, &r);
	assert_error(&r, 503, "recording");
	reply_free(&r);
	api_stop(b);
	free(c2);

	/* configured certificate and key files (copies of the generated ones) */
	snprintf(path, sizeof(path), "%s/mine.pem", F.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite(c1, 1, l1, f);
	fclose(f);
	snprintf(cfg.cert, sizeof(cfg.cert), "%s", path);
	snprintf(cfg.key, sizeof(cfg.key), "%s", key);
	cfg.state_dir[0] = 0;
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), 0);
	how.port = api_port(b);
	how.cainfo = path;
	request_how(&how, "GET", "/v1/health", NULL, NULL, -1, &r);
	assert_ok(&r, 200);
	reply_free(&r);
	api_stop(b);
	free(c1);

	snprintf(cfg.cert, sizeof(cfg.cert), "%s/missing.pem", F.dir);
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), -1);
	assert_null(b);
	assert_non_null(strstr(err, "missing.pem"));
	/* no certificate and no state directory */
	cfg.cert[0] = 0;
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "state directory"));
}

/* An expired generated certificate is replaced; a fresh state directory gets one. */
static void test_cert_regenerated_when_missing(void **state)
{
	char dir[160], cert[256], key[256], err[256];

	snprintf(dir, sizeof(dir), "%s/state2", F.dir);
	assert_int_equal(api_cert_ensure(dir, cert, key, sizeof(cert), err, sizeof(err)), 1);
	assert_int_equal(api_cert_ensure(dir, cert, key, sizeof(cert), err, sizeof(err)), 0);
	assert_int_equal(unlink(key), 0);
	assert_int_equal(api_cert_ensure(dir, cert, key, sizeof(cert), err, sizeof(err)), 1);
	assert_int_equal(access(key, R_OK), 0);
}

static void test_listen_addresses(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "localhost:8443", "::1:8443", "[::1]", "1.2.3.4:99999",
		"",
	};
	struct api_config cfg = F.cfg;
	char err[256];
	struct api *b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cfg.listen, sizeof(cfg.listen), "%s", bad[i]);
		if (api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)) == 0)
			fail_msg("listen '%s' was accepted", bad[i]);
		assert_non_null(strstr(err, "listen"));
	}
	/* the port in use */
	snprintf(cfg.listen, sizeof(cfg.listen), "127.0.0.1:%u", api_port(F.api));
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	/* IPv6, where the machine has it */
	snprintf(cfg.listen, sizeof(cfg.listen), "[::1]:0");
	if (api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)) == 0) {
		assert_int_not_equal(api_port(b), 0);
		api_stop(b);
	}
	/* a token without a valid role is refused */
	cfg = F.cfg;
	cfg.tokens[0].role = 9;
	assert_int_equal(api_start(F.base, &cfg, &F.ops, NULL, &b, err, sizeof(err)), -1);
}

/* api_start ignores SIGPIPE (left at its default, a client resetting mid-answer would
 * end the daemon). */
static void test_sigpipe_ignored(void **state)
{
	struct sigaction sa;

	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
}

/* ---- the core without sockets ---------------------------------------------------- */

static void core(struct api *a, int method, const char *target, const char *authz,
		 const char *body, struct api_response *rs)
{
	struct api_request rq = {
		.method = method, .target = target, .authorization = authz, .body = body,
		.body_len = body ? strlen(body) : 0,
	};

	api_handle(a, &rq, rs);
	/* every answer is valid JSON or the metrics text */
	if (strcmp(rs->content_type, "application/json") == 0) {
		json_t *j = json_loadb(rs->body, rs->body_len, 0, NULL);

		if (!j)
			fail_msg("not JSON: %s", rs->body);
		json_decref(j);
	}
}

static void test_core(void **state)
{
	struct api_ops none = { 0 };
	struct api *a;
	struct api_response rs;
	char err[256];

	assert_int_equal(api_core_new(&F.cfg, &none, NULL, &a, err, sizeof(err)), 0);
	/* health without a health op is still "ok" */
	core(a, API_M_GET, "/v1/health", NULL, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(strstr(rs.body, "\"ok\""));
	api_response_free(&rs);
	/* missing ops and recorder: 503 */
	core(a, API_M_GET, "/v1/stats", "Bearer " T_ADMIN, NULL, &rs);
	assert_int_equal(rs.status, 503);
	api_response_free(&rs);
	core(a, API_M_GET, "/v1/audit", "Bearer " T_ADMIN, NULL, &rs);
	assert_int_equal(rs.status, 503);
	api_response_free(&rs);
	/* request bytes that are not UTF-8 still give a JSON error */
	core(a, API_M_GET, "/v1/\xff\xfe", NULL, NULL, &rs);
	assert_int_equal(rs.status, 404);
	api_response_free(&rs);
	core(a, API_M_PUT, "/v1/rules", "Bearer " T_ADMIN, "{\"\xc3\xa9t\xc3\xa9\":1}", &rs);
	assert_int_equal(rs.status, 503);
	api_response_free(&rs);
	core(a, API_M_OTHER, "/v1/rules", NULL, NULL, &rs);
	assert_int_equal(rs.status, 405);
	api_response_free(&rs);
	core(a, API_M_GET, "", NULL, NULL, &rs);
	assert_int_equal(rs.status, 404);
	api_response_free(&rs);
	core(a, API_M_GET, "*", NULL, NULL, &rs);
	assert_int_equal(rs.status, 404);
	api_response_free(&rs);
	api_core_free(a);

	assert_int_equal(api_role_parse("admin"), API_ROLE_ADMIN);
	assert_int_equal(api_role_parse("approver"), API_ROLE_APPROVER);
	assert_int_equal(api_role_parse("auditor"), API_ROLE_AUDITOR);
	assert_int_equal(api_role_parse("user"), API_ROLE_USER);
	assert_int_equal(api_role_parse("root"), -1);
	assert_int_equal(api_role_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openapi_matches_routes),
		cmocka_unit_test(test_documented_routes_answer),
		cmocka_unit_test(test_auth_matrix),
		cmocka_unit_test(test_bearer_parsing),
		cmocka_unit_test(test_errors_route_and_method),
		cmocka_unit_test(test_errors_body),
		cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_sessions_list_filter_page),
		cmocka_unit_test(test_session_detail_and_events),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_plain_http_refused),
		cmocka_unit_test(test_cert_generated_once),
		cmocka_unit_test(test_cert_regenerated_when_missing),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_sigpipe_ignored),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_reads_flush_first),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
