/* test_recorder.c - the session recorder: LMDB store, hash chains, readers, retention,
 * map growth and crash safety (slowpath/recorder.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>

#include "slowpath/recorder.h"
#include "rules/rule-t.h"
#include "dataplane/dp_config-t.h"

#define T0 1700000000000000000ULL     /* 2023-11-14T22:13:20Z */
#define MB (1024ULL * 1024)

struct fx {
	char dir[64];
	struct rec *r;
};

static const char *const res_names[] = { "orders-db", "cache", "billing" };

/* ---- fixtures ---- */

static void rm_store(const char *dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct rec *open_rw(const char *dir, uint64_t map)
{
	struct rec *r = NULL;
	char err[256] = "";

	if (rec_open(dir, map, 0, &r, err, sizeof(err)) < 0)
		fail_msg("rec_open %s: %s", dir, err);
	rec_set_resources(r, res_names, 3);
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/tg-rec-XXXXXX";

	if (f == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	/* A subdirectory that does not exist yet: rec_open creates it. */
	snprintf(f->dir, sizeof(f->dir), "%s/store", tmpl);
	f->r = open_rw(f->dir, 64 * MB);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *slash;

	rec_close(f->r);
	rm_store(f->dir);
	slash = strrchr(f->dir, '/');
	*slash = '\0';
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- events ---- */

static uint64_t sid_of(struct rec *r, unsigned worker, uint64_t n)
{
	return (uint64_t)rec_boot(r) << 48 | (uint64_t)worker << 40 | n;
}

static struct tg_event ev_base(uint8_t type, uint64_t sid, uint64_t ts, uint16_t res)
{
	struct tg_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.proto = DP_PROTO_PG;
	e.worker = (uint8_t)(sid >> 40);
	e.res_id = res;
	e.sid = sid;
	e.ts_ns = ts;
	return e;
}

static struct tg_event ev_open(uint64_t sid, uint64_t ts, uint16_t res, const char *client,
			       uint16_t cport)
{
	struct tg_event e = ev_base(EV_SESSION_OPEN, sid, ts, res);

	e.u.open.ip_ver = 4;
	inet_pton(AF_INET, client, &e.u.open.client[0]);
	inet_pton(AF_INET, "198.18.0.2", &e.u.open.server[0]);
	e.u.open.cport = cport;
	e.u.open.sport = 5432;
	return e;
}

static struct tg_event ev_auth(uint64_t sid, uint64_t ts, const char *user, const char *db)
{
	struct tg_event e = ev_base(EV_AUTH, sid, ts, 0);

	snprintf(e.u.auth.user, sizeof(e.u.auth.user), "%s", user);
	snprintf(e.u.auth.database, sizeof(e.u.auth.database), "%s", db);
	snprintf(e.u.auth.app, sizeof(e.u.auth.app), "psql");
	return e;
}

static struct tg_event ev_cmd(uint64_t sid, uint64_t ts, const char *text, uint8_t action,
			      const char *rule)
{
	struct tg_event e = ev_base(EV_COMMAND, sid, ts, 0);

	e.u.cmd.action = action;
	e.u.cmd.len = (uint32_t)strlen(text);
	e.u.cmd.fp_hash = 0xdeadbeefULL;
	snprintf(e.u.cmd.rule, sizeof(e.u.cmd.rule), "%s", rule ? rule : "");
	snprintf(e.u.cmd.text, sizeof(e.u.cmd.text), "%s", text);
	if (e.u.cmd.len >= EV_TEXT_MAX)
		e.flags |= EV_F_TRUNCATED;
	return e;
}

static struct tg_event ev_result(uint64_t sid, uint64_t ts, uint64_t rows, uint32_t masked)
{
	struct tg_event e = ev_base(EV_RESULT, sid, ts, 0);

	e.u.result.rows = rows;
	e.u.result.bytes = rows * 100;
	e.u.result.masked = masked;
	e.u.result.duration_us = 250;
	snprintf(e.u.result.tag, sizeof(e.u.result.tag), "SELECT %llu", (unsigned long long)rows);
	return e;
}

static struct tg_event ev_error(uint64_t sid, uint64_t ts, const char *code, const char *text)
{
	struct tg_event e = ev_base(EV_ERROR, sid, ts, 0);

	snprintf(e.u.error.code, sizeof(e.u.error.code), "%s", code);
	snprintf(e.u.error.text, sizeof(e.u.error.text), "%s", text);
	return e;
}

static struct tg_event ev_close(uint64_t sid, uint64_t ts, uint8_t reason)
{
	struct tg_event e = ev_base(EV_SESSION_CLOSE, sid, ts, 0);

	e.u.close.reason = reason;
	e.u.close.bytes_c2s = 1000;
	e.u.close.bytes_s2c = 5000;
	return e;
}

static void write_ok(struct rec *r, const struct tg_event *ev, unsigned n)
{
	assert_int_equal(rec_write(r, ev, n), (int)n);
}

/* A whole session of <n_cmd> commands, written in one batch. */
static void write_session(struct rec *r, uint64_t sid, uint64_t t_open, uint64_t t_close,
			  uint16_t res, const char *user, unsigned n_cmd, uint8_t action)
{
	struct tg_event ev[64];
	unsigned n = 0;

	assert_true(n_cmd * 2 + 3 <= 64);
	ev[n++] = ev_open(sid, t_open, res, "198.18.0.1", 40000);
	ev[n++] = ev_auth(sid, t_open + 1, user, "orders");
	for (unsigned i = 0; i < n_cmd; i++) {
		ev[n++] = ev_cmd(sid, t_open + 2 + 2 * i, "SELECT * FROM t WHERE id = 1", action,
				 action ? "test.rule" : NULL);
		ev[n++] = ev_result(sid, t_open + 3 + 2 * i, 1, 0);
	}
	if (t_close)
		ev[n++] = ev_close(sid, t_close, EV_CLOSE_FIN);
	write_ok(r, ev, n);
}

/* ---- JSON helpers ---- */

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v))
		fail_msg("%s is not a string", k);
	return json_string_value(v);
}

static long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", k);
	return json_integer_value(v);
}

static uint64_t jsid(json_t *o)
{
	uint64_t sid;

	assert_int_equal(rec_sid_parse(jstr(o, "id"), &sid), 0);
	return sid;
}

static size_t count_sessions(struct rec *r, const struct rec_filter *f)
{
	json_t *arr;
	size_t n;

	assert_int_equal(rec_sessions(r, f, &arr), 0);
	n = json_array_size(arr);
	json_decref(arr);
	return n;
}

static int verify_all(struct rec *r, json_t **out)
{
	json_t *v = NULL;
	int rc = rec_verify(r, 0, &v);

	if (out)
		*out = v;
	else
		json_decref(v);
	return rc;
}

/* ---- tests ---- */

static void test_ids_and_boot(void **state)
{
	struct fx *f = *state;
	struct rec *ro;
	uint16_t b1 = rec_boot(f->r);
	char s[17], err[200];
	uint64_t v;

	rec_sid_str(0x0001020000000abcULL, s);
	assert_string_equal(s, "0001020000000abc");
	assert_int_equal(rec_sid_parse(s, &v), 0);
	assert_int_equal(v, 0x0001020000000abcULL);
	assert_int_equal(rec_sid_parse("FFFFFFFFFFFFFFFF", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(rec_sid_parse("", &v), -1);
	assert_int_equal(rec_sid_parse("12345678901234567", &v), -1);
	assert_int_equal(rec_sid_parse("12x4", &v), -1);

	/* each writer open counts a boot; a read-only open does not */
	rec_close(f->r);
	f->r = open_rw(f->dir, 64 * MB);
	assert_int_equal(rec_boot(f->r), b1 + 1);
	rec_close(f->r);
	assert_int_equal(rec_open(f->dir, 0, 1, &ro, err, sizeof(err)), 0);
	assert_int_equal(rec_boot(ro), b1 + 1);
	assert_int_equal(rec_write(ro, &(struct tg_event){ .type = EV_AUTH, .sid = 1 }, 1), -1);
	rec_close(ro);
	f->r = open_rw(f->dir, 64 * MB);
	assert_int_equal(rec_boot(f->r), b1 + 2);

	/* a missing store cannot be opened read-only */
	assert_int_equal(rec_open("/tmp/tg-rec-does-not-exist", 0, 1, &ro, err, sizeof(err)), -1);
	assert_null(ro);
}

static void test_write_and_read(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	uint64_t a = sid_of(r, 0, 1), b = sid_of(r, 1, 1), c = sid_of(r, 0, 2);
	struct tg_event b1[] = {
		ev_open(a, T0 + 123, 0, "198.18.0.1", 40001),
		ev_open(b, T0 + 200, 1, "198.18.0.3", 40002),
		ev_auth(a, T0 + 300, "alice", "orders"),
	};
	struct tg_event b2[] = {
		ev_cmd(a, T0 + 400, "SELECT * FROM users", RULE_MASK, "pii.card"),
		ev_auth(b, T0 + 410, "bob", "cache0"),
		ev_result(a, T0 + 500, 2, 1),
		ev_cmd(a, T0 + 600, "DROP TABLE users", RULE_BLOCK, "sql.drop-table"),
		ev_open(c, T0 + 650, 0, "198.18.0.4", 40003),
	};
	struct tg_event b3[] = {
		ev_error(a, T0 + 700, "42501", "blocked by policy"),
		ev_cmd(b, T0 + 710, "GET k", RULE_ALLOW, NULL),
		ev_close(a, T0 + 800, EV_CLOSE_FIN),
		ev_close(c, T0 + 900, EV_CLOSE_RST),
	};
	json_t *arr, *o, *evs, *e;
	char id[17];

	write_ok(r, b1, 3);
	write_ok(r, b2, 5);
	write_ok(r, b3, 4);
	assert_int_equal(rec_stats(r)->events_written, 12);
	assert_int_equal(rec_stats(r)->batches, 3);
	assert_int_equal(rec_stats(r)->events_lost, 0);

	/* newest (highest id) first */
	assert_int_equal(rec_sessions(r, NULL, &arr), 0);
	assert_int_equal(json_array_size(arr), 3);
	assert_int_equal(jsid(json_array_get(arr, 0)), b);
	assert_int_equal(jsid(json_array_get(arr, 1)), c);
	assert_int_equal(jsid(json_array_get(arr, 2)), a);
	o = json_array_get(arr, 2);
	rec_sid_str(a, id);
	assert_string_equal(jstr(o, "id"), id);
	assert_string_equal(jstr(o, "opened"), "2023-11-14T22:13:20.000000123Z");
	assert_int_equal(jint(o, "opened_ns"), T0 + 123);
	assert_string_equal(jstr(o, "closed"), "2023-11-14T22:13:20.000000800Z");
	assert_int_equal(jint(o, "closed_ns"), T0 + 800);
	assert_string_equal(jstr(o, "resource"), "orders-db");
	assert_string_equal(jstr(o, "proto"), "postgresql");
	assert_string_equal(jstr(o, "client"), "198.18.0.1");
	assert_int_equal(jint(o, "client_port"), 40001);
	assert_string_equal(jstr(o, "server"), "198.18.0.2");
	assert_int_equal(jint(o, "server_port"), 5432);
	assert_string_equal(jstr(o, "user"), "alice");
	assert_string_equal(jstr(o, "database"), "orders");
	assert_string_equal(jstr(o, "app"), "psql");
	assert_int_equal(jint(o, "events"), 7);
	assert_int_equal(jint(o, "commands"), 2);
	assert_int_equal(jint(o, "blocked"), 1);
	assert_int_equal(jint(o, "masked"), 1);
	assert_int_equal(jint(o, "errors"), 1);
	assert_int_equal(jint(o, "rows"), 2);
	assert_int_equal(jint(o, "bytes_s2c"), 5000);
	assert_string_equal(jstr(o, "close_reason"), "fin");
	assert_false(json_is_true(json_object_get(o, "live")));
	assert_int_equal(json_array_size(json_object_get(o, "verdicts")), 2); /* mask, block */
	o = json_array_get(arr, 0);
	assert_string_equal(jstr(o, "resource"), "cache");
	assert_string_equal(jstr(o, "user"), "bob");
	assert_true(json_is_null(json_object_get(o, "closed")));
	assert_true(json_is_null(json_object_get(o, "close_reason")));
	assert_true(json_is_true(json_object_get(o, "live")));
	assert_string_equal(jstr(json_array_get(arr, 1), "close_reason"), "rst");
	json_decref(arr);

	assert_int_equal(rec_session(r, a, &o), 0);
	assert_int_equal(jint(o, "events"), 7);
	assert_int_equal(jint(o, "next_seq"), 7);
	assert_int_equal(strlen(jstr(o, "chain")), 64);
	json_decref(o);
	assert_int_equal(rec_session(r, 12345, &o), -1);
	assert_null(o);

	/* events in order, decoded */
	assert_int_equal(rec_events(r, a, 0, 0, &evs), 0);
	assert_int_equal(json_array_size(evs), 7);
	{
		static const char *const types[] = { "open", "auth", "command", "result", "command",
						     "error", "close" };
		for (unsigned i = 0; i < 7; i++) {
			e = json_array_get(evs, i);
			assert_int_equal(jint(e, "seq"), i);
			assert_string_equal(jstr(e, "type"), types[i]);
			assert_int_equal(strlen(jstr(e, "hash")), 64);
		}
	}
	e = json_array_get(evs, 0);
	assert_string_equal(jstr(e, "client"), "198.18.0.1");
	assert_int_equal(jint(e, "client_port"), 40001);
	e = json_array_get(evs, 4);
	assert_string_equal(jstr(e, "text"), "DROP TABLE users");
	assert_string_equal(jstr(e, "action"), "block");
	assert_string_equal(jstr(e, "rule"), "sql.drop-table");
	assert_string_equal(jstr(e, "fp_hash"), "00000000deadbeef");
	assert_false(json_is_true(json_object_get(e, "truncated")));
	assert_string_equal(jstr(json_array_get(evs, 2), "action"), "mask");
	assert_int_equal(jint(json_array_get(evs, 3), "rows"), 2);
	assert_string_equal(jstr(json_array_get(evs, 3), "tag"), "SELECT 2");
	assert_string_equal(jstr(json_array_get(evs, 5), "code"), "42501");
	assert_string_equal(jstr(json_array_get(evs, 5), "text"), "blocked by policy");
	assert_string_equal(jstr(json_array_get(evs, 6), "reason"), "fin");
	assert_string_equal(jstr(json_array_get(evs, 1), "user"), "alice");
	/* the last event's hash is the session's chain head */
	assert_int_equal(rec_session(r, a, &o), 0);
	assert_string_equal(jstr(o, "chain"), jstr(json_array_get(evs, 6), "hash"));
	json_decref(o);
	json_decref(evs);

	/* paging through events */
	assert_int_equal(rec_events(r, a, 2, 3, &evs), 0);
	assert_int_equal(json_array_size(evs), 3);
	assert_int_equal(jint(json_array_get(evs, 0), "seq"), 2);
	assert_int_equal(jint(json_array_get(evs, 2), "seq"), 4);
	json_decref(evs);
	assert_int_equal(rec_events(r, a, 7, 0, &evs), 0);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);
	assert_int_equal(rec_events(r, sid_of(r, 3, 3), 0, 0, &evs), -1);
	assert_null(evs);

	assert_int_equal(verify_all(r, &o), 0);
	assert_int_equal(jint(o, "sessions"), 3);
	assert_int_equal(jint(o, "ok"), 3);
	assert_int_equal(json_array_size(json_object_get(o, "failed")), 0);
	json_decref(o);
	assert_int_equal(rec_verify(r, a, &o), 0);
	assert_int_equal(jint(o, "sessions"), 1);
	json_decref(o);
	assert_int_equal(rec_verify(r, 999, &o), -1);
}

static void test_text_edge_cases(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	uint64_t s = sid_of(r, 2, 7);
	char long_text[600];
	struct tg_event ev[3];
	json_t *evs, *o;

	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	/* no open event: the first event makes the record (a flow seen before a restart) */
	ev[0] = ev_cmd(s, T0 + 5, long_text, RULE_ALERT, "r.long");
	ev[0].u.cmd.len = 599;
	ev[1] = ev_cmd(s, T0 + 6, "SELECT '\xff\xfe' -- \xc3\xa9t\xc3\xa9", RULE_ALLOW, NULL);
	ev[2] = ev_base(EV_AUTH, s, T0 + 7, 2);
	memset(ev[2].u.auth.user, 'u', EV_NAME_MAX); /* no NUL at all */
	write_ok(r, ev, 3);

	assert_int_equal(rec_session(r, s, &o), 0);
	assert_int_equal(jint(o, "opened_ns"), T0 + 5);
	assert_true(json_is_null(json_object_get(o, "client")));
	assert_string_equal(jstr(o, "resource"), "orders-db");
	assert_int_equal(strlen(jstr(o, "user")), EV_NAME_MAX - 1);
	json_decref(o);

	assert_int_equal(rec_events(r, s, 0, 0, &evs), 0);
	assert_int_equal(json_array_size(evs), 3);
	o = json_array_get(evs, 0);
	assert_int_equal(strlen(jstr(o, "text")), EV_TEXT_MAX - 1);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	assert_int_equal(jint(o, "len"), 599);
	assert_string_equal(jstr(o, "action"), "alert");
	/* invalid UTF-8 becomes U+FFFD, valid sequences stay */
	assert_string_equal(jstr(json_array_get(evs, 1), "text"),
			    "SELECT '\xef\xbf\xbd\xef\xbf\xbd' -- \xc3\xa9t\xc3\xa9");
	assert_int_equal(strlen(jstr(json_array_get(evs, 2), "user")), EV_NAME_MAX);
	json_decref(evs);
	assert_int_equal(verify_all(r, NULL), 0);

	/* events without a session id are not recorded, and counted */
	ev[0].sid = 0;
	assert_int_equal(rec_write(r, ev, 2), 1);
	assert_int_equal(rec_stats(r)->events_lost, 1);
}

static void test_filters_and_paging(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	struct rec_filter flt;
	uint64_t prev = UINT64_MAX, seen = 0;
	const unsigned n = 30;
	json_t *arr;

	for (unsigned i = 0; i < n; i++) {
		uint64_t t = T0 + (uint64_t)i * 1000000000u;

		write_session(r, sid_of(r, i % 2, i + 1), t, i % 3 == 0 ? 0 : t + 500, i % 3,
			      i % 5 == 0 ? "alice" : "bob", 2,
			      i % 4 == 0 ? RULE_BLOCK : i % 4 == 1 ? RULE_REVIEW : RULE_ALLOW);
	}
	memset(&flt, 0, sizeof(flt));
	flt.verdict = -1;
	flt.limit = 1000;
	assert_int_equal(count_sessions(r, &flt), n);
	flt.resource = "cache";                            /* i % 3 == 1 */
	assert_int_equal(count_sessions(r, &flt), 10);
	flt.resource = "nope";
	assert_int_equal(count_sessions(r, &flt), 0);
	flt.resource = NULL;
	flt.user = "alice";                                /* i % 5 == 0 */
	assert_int_equal(count_sessions(r, &flt), 6);
	flt.user = NULL;
	flt.verdict = RULE_BLOCK;                          /* i % 4 == 0 */
	assert_int_equal(count_sessions(r, &flt), 8);
	flt.verdict = RULE_REVIEW;
	assert_int_equal(count_sessions(r, &flt), 8);
	flt.verdict = RULE_RESET;
	assert_int_equal(count_sessions(r, &flt), 0);
	flt.verdict = -1;
	flt.live = 1;                                      /* i % 3 == 0 */
	assert_int_equal(count_sessions(r, &flt), 10);
	flt.live = 0;
	flt.since_ns = T0 + 10ULL * 1000000000u;           /* i in [10, 20) */
	flt.until_ns = T0 + 20ULL * 1000000000u;
	assert_int_equal(count_sessions(r, &flt), 10);
	flt.resource = "orders-db";                        /* and i % 3 == 0: 12, 15, 18 */
	flt.live = 1;
	assert_int_equal(count_sessions(r, &flt), 3);

	/* default limit, then paging by 7 with before_sid: every session once, in order */
	assert_int_equal(count_sessions(r, NULL), n);
	memset(&flt, 0, sizeof(flt));
	flt.verdict = -1;
	flt.limit = 7;
	for (unsigned page = 0; page < 10; page++) {
		size_t m;

		assert_int_equal(rec_sessions(r, &flt, &arr), 0);
		m = json_array_size(arr);
		for (size_t i = 0; i < m; i++) {
			uint64_t sid = jsid(json_array_get(arr, i));

			assert_true(sid < prev);
			prev = sid;
			seen++;
		}
		json_decref(arr);
		if (m < 7)
			break;
		flt.before_sid = prev;
	}
	assert_int_equal(seen, n);
}

static void test_many_sessions_cache(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	enum { N = 3000, PER = 5, BATCH = 256 };
	static struct tg_event ev[BATCH];
	unsigned n = 0, total = 0;
	json_t *o;

	/* Sessions open, run and close interleaved over many batches: the writer's
	 * cache inserts, finds and drops (backward shift) thousands of entries. */
	for (unsigned step = 0; step < PER + 2; step++) {
		for (unsigned i = 0; i < N; i++) {
			uint64_t sid = sid_of(r, i % 4, i + 1), t = T0 + step * 1000 + i;

			if (step == 0)
				ev[n] = ev_open(sid, t, (uint16_t)(i % 3), "198.18.1.1", (uint16_t)i);
			else if (step == PER + 1)
				ev[n] = i % 2 ? ev_close(sid, t, EV_CLOSE_FIN) :
					ev_result(sid, t, 1, 1);
			else
				ev[n] = ev_cmd(sid, t, "UPDATE t SET x = 1", RULE_ALLOW, NULL);
			if (++n == BATCH) {
				write_ok(r, ev, n);
				total += n;
				n = 0;
			}
		}
	}
	write_ok(r, ev, n);
	total += n;
	assert_int_equal(rec_stats(r)->events_written, total);
	assert_int_equal(verify_all(r, &o), 0);
	assert_int_equal(jint(o, "ok"), N);
	json_decref(o);
	for (unsigned i = 0; i < N; i += 997) {
		assert_int_equal(rec_session(r, sid_of(r, i % 4, i + 1), &o), 0);
		assert_int_equal(jint(o, "events"), PER + 2);
		assert_int_equal(jint(o, "commands"), PER);
		assert_int_equal(json_is_true(json_object_get(o, "live")), i % 2 == 0);
		json_decref(o);
	}
}

static void test_restart_continues_chain(void **state)
{
	struct fx *f = *state;
	uint64_t s = sid_of(f->r, 0, 42);
	struct tg_event ev[2];
	json_t *o;

	write_session(f->r, s, T0, 0, 0, "alice", 3, RULE_ALLOW);
	rec_close(f->r);
	f->r = open_rw(f->dir, 64 * MB);
	/* the same flow goes on after the daemon restarted */
	ev[0] = ev_cmd(s, T0 + 100, "SELECT 2", RULE_ALLOW, NULL);
	ev[1] = ev_close(s, T0 + 200, EV_CLOSE_FIN);
	write_ok(f->r, ev, 2);
	assert_int_equal(rec_session(f->r, s, &o), 0);
	assert_int_equal(jint(o, "events"), 2 + 2 * 3 + 2);
	assert_int_equal(jint(o, "commands"), 4);
	assert_string_equal(jstr(o, "user"), "alice");
	json_decref(o);
	assert_int_equal(verify_all(f->r, NULL), 0);
}

/* ---- raw LMDB access, as an attacker (or a bad disk) would change the store ---- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ev, sess;
};

static void raw_open(struct raw *w, const char *dir)
{
	assert_int_equal(mdb_env_create(&w->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(w->env, 16), 0);
	assert_int_equal(mdb_env_open(w->env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(w->env, NULL, 0, &w->txn), 0);
	assert_int_equal(mdb_dbi_open(w->txn, "events", 0, &w->ev), 0);
	assert_int_equal(mdb_dbi_open(w->txn, "sessions", 0, &w->sess), 0);
}

static void raw_close(struct raw *w)
{
	assert_int_equal(mdb_txn_commit(w->txn), 0);
	mdb_env_close(w->env);
}

static void ev_key(uint8_t k[12], uint64_t sid, uint32_t seq)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(sid >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		k[8 + i] = (uint8_t)(seq >> (24 - 8 * i));
}

/* Flips one byte of event (sid, seq) at offset <off> of its value. */
static void raw_flip(struct raw *w, uint64_t sid, uint32_t seq, size_t off)
{
	uint8_t key[12], buf[1024];
	MDB_val k = { 12, key }, v;

	ev_key(key, sid, seq);
	assert_int_equal(mdb_get(w->txn, w->ev, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(buf) && off < v.mv_size);
	memcpy(buf, v.mv_data, v.mv_size);
	buf[off] ^= 0x20;
	v.mv_data = buf;
	assert_int_equal(mdb_put(w->txn, w->ev, &k, &v, 0), 0);
}

static void raw_del(struct raw *w, uint64_t sid, uint32_t seq)
{
	uint8_t key[12];
	MDB_val k = { 12, key };

	ev_key(key, sid, seq);
	assert_int_equal(mdb_del(w->txn, w->ev, &k, NULL), 0);
}

static json_t *find_failure(json_t *report, uint64_t sid)
{
	char id[17];
	size_t i;
	json_t *x;

	rec_sid_str(sid, id);
	json_array_foreach(json_object_get(report, "failed"), i, x)
		if (strcmp(jstr(x, "id"), id) == 0)
			return x;
	return NULL;
}

static void test_verify_detects_tampering(void **state)
{
	struct fx *f = *state;
	uint64_t s[5];
	struct raw w;
	json_t *o, *x;

	for (unsigned i = 0; i < 5; i++) {
		s[i] = sid_of(f->r, 0, 100 + i);
		write_session(f->r, s[i], T0 + i * 1000, T0 + i * 1000 + 900, 0, "alice", 4,
			      RULE_ALLOW);
	}
	assert_int_equal(verify_all(f->r, NULL), 0);
	rec_close(f->r);
	f->r = NULL;

	raw_open(&w, f->dir);
	raw_flip(&w, s[0], 2, 4 + 24 + 80 + 3); /* a byte of the statement of event 2 */
	raw_del(&w, s[1], 2);                /* an event from the middle */
	raw_del(&w, s[2], 10);               /* the last event (the close) */
	raw_flip(&w, s[3], 5, 4 + 24 + 8);   /* a result's byte count */
	raw_close(&w);

	f->r = open_rw(f->dir, 64 * MB);
	assert_int_equal(verify_all(f->r, &o), 1);
	assert_int_equal(jint(o, "sessions"), 5);
	assert_int_equal(jint(o, "ok"), 1);
	assert_int_equal(json_array_size(json_object_get(o, "failed")), 4);
	x = find_failure(o, s[0]);
	assert_non_null(x);
	assert_int_equal(jint(x, "seq"), 2);
	assert_string_equal(jstr(x, "why"), "hash mismatch");
	x = find_failure(o, s[1]);
	assert_non_null(x);
	assert_int_equal(jint(x, "seq"), 2);
	assert_string_equal(jstr(x, "why"), "missing event");
	x = find_failure(o, s[2]);
	assert_non_null(x);
	assert_int_equal(jint(x, "seq"), 10);
	assert_string_equal(jstr(x, "why"), "missing event");
	x = find_failure(o, s[3]);
	assert_non_null(x);
	assert_int_equal(jint(x, "seq"), 5);
	assert_string_equal(jstr(x, "why"), "hash mismatch");
	assert_null(find_failure(o, s[4]));
	json_decref(o);

	/* one session at a time */
	assert_int_equal(rec_verify(f->r, s[4], &o), 0);
	json_decref(o);
	assert_int_equal(rec_verify(f->r, s[0], &o), 1);
	assert_int_equal(jint(json_array_get(json_object_get(o, "failed"), 0), "seq"), 2);
	json_decref(o);
}

static void test_verify_head_and_orphans(void **state)
{
	struct fx *f = *state;
	uint64_t a = sid_of(f->r, 1, 1), b = sid_of(f->r, 1, 2);
	uint8_t key[8];
	struct raw w;
	MDB_val k = { 8, key }, v;
	uint8_t rec[1024];
	json_t *o, *x;

	write_session(f->r, a, T0, T0 + 50, 0, "alice", 2, RULE_ALLOW);
	write_session(f->r, b, T0 + 100, T0 + 150, 0, "alice", 2, RULE_ALLOW);
	rec_close(f->r);
	f->r = NULL;

	raw_open(&w, f->dir);
	/* session a: its record's chain head rewritten */
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(a >> (56 - 8 * i));
	assert_int_equal(mdb_get(w.txn, w.sess, &k, &v), 0);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[120] ^= 1; /* first byte of the head (rec_int.h layout) */
	v.mv_data = rec;
	assert_int_equal(mdb_put(w.txn, w.sess, &k, &v, 0), 0);
	/* session b: its record deleted, its events left behind */
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(b >> (56 - 8 * i));
	assert_int_equal(mdb_del(w.txn, w.sess, &k, NULL), 0);
	raw_close(&w);

	f->r = open_rw(f->dir, 64 * MB);
	assert_int_equal(verify_all(f->r, &o), 1);
	x = find_failure(o, a);
	assert_non_null(x);
	assert_string_equal(jstr(x, "why"), "head mismatch");
	assert_int_equal(jint(x, "seq"), 6);
	x = find_failure(o, b);
	assert_non_null(x);
	assert_string_equal(jstr(x, "why"), "no session record");
	json_decref(o);

	/* new events for b rebuild its record after the stored events, never over them */
	{
		struct tg_event ev = ev_cmd(b, T0 + 160, "SELECT 1", RULE_ALLOW, NULL);

		write_ok(f->r, &ev, 1);
	}
	assert_int_equal(rec_verify(f->r, b, &o), 0);
	json_decref(o);
	assert_int_equal(rec_session(f->r, b, &o), 0);
	assert_int_equal(jint(o, "next_seq"), 8);
	json_decref(o);
}

static void test_audit(void **state)
{
	struct fx *f = *state;
	json_t *arr, *d = json_pack("{s:s}", "file", "packs/pii.conf");

	assert_int_equal(rec_audit_list(f->r, 0, &arr), 0);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	assert_int_equal(rec_audit(f->r, "admin-token", "rules.put", d), 0);
	assert_int_equal(rec_audit(f->r, "alice", "bindings.login", NULL), 0);
	assert_int_equal(rec_audit(f->r, "carol", "reviews.approve", NULL), 0);
	json_decref(d);

	assert_int_equal(rec_audit_list(f->r, 0, &arr), 0);
	assert_int_equal(json_array_size(arr), 3);
	assert_string_equal(jstr(json_array_get(arr, 0), "action"), "reviews.approve");
	assert_string_equal(jstr(json_array_get(arr, 1), "who"), "alice");
	assert_string_equal(jstr(json_array_get(arr, 2), "action"), "rules.put");
	assert_string_equal(jstr(json_object_get(json_array_get(arr, 2), "detail"), "file"),
			    "packs/pii.conf");
	assert_true(jint(json_array_get(arr, 0), "ts_ns") >= jint(json_array_get(arr, 2), "ts_ns"));
	assert_int_equal(strlen(jstr(json_array_get(arr, 0), "ts")), 30);
	json_decref(arr);
	assert_int_equal(rec_audit_list(f->r, 2, &arr), 0);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(jstr(json_array_get(arr, 1), "who"), "alice");
	json_decref(arr);
}

static uint64_t wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void test_retention_by_age(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	uint64_t now = wall_ns(), h = 3600ULL * 1000000000u;
	uint64_t old1 = sid_of(r, 0, 1), old2 = sid_of(r, 0, 2), young = sid_of(r, 0, 3);
	uint64_t live = sid_of(r, 0, 4);
	json_t *o;

	/* sid order is not close order: old2 closed first */
	write_session(r, old1, now - 5 * h, now - 2 * h, 0, "a", 2, RULE_ALLOW);
	write_session(r, old2, now - 4 * h, now - 3 * h, 0, "a", 2, RULE_ALLOW);
	write_session(r, young, now - 4 * h, now - h / 6, 0, "a", 2, RULE_ALLOW);
	write_session(r, live, now - 6 * h, 0, 0, "a", 2, RULE_ALLOW);

	assert_int_equal(rec_retain(r, 0, 0, 100), 0);        /* no limits: nothing */
	assert_int_equal(rec_retain(r, 3600, 0, 1), 1);       /* budget 1: the oldest close */
	assert_int_equal(rec_session(r, old2, &o), -1);
	assert_int_equal(rec_session(r, old1, &o), 0);
	json_decref(o);
	assert_int_equal(rec_retain(r, 3600, 0, 100), 1);
	assert_int_equal(rec_session(r, old1, &o), -1);
	assert_int_equal(rec_events(r, old1, 0, 0, &o), -1);
	assert_int_equal(rec_retain(r, 3600, 0, 100), 0);
	assert_int_equal(count_sessions(r, NULL), 2);         /* young and the live one */
	assert_int_equal(rec_stats(r)->sessions_pruned, 2);
	assert_int_equal(verify_all(r, &o), 0);
	assert_int_equal(jint(o, "sessions"), 2);             /* no orphaned events left */
	json_decref(o);
}

static void test_retention_by_size(void **state)
{
	struct fx *f = *state;
	struct rec *r = f->r;
	enum { N = 24 };
	char text[300];
	uint64_t closed_at[N], max_removed = 0, min_kept = UINT64_MAX;
	unsigned removed, kept_closed = 0;
	json_t *arr, *o;
	size_t i;

	memset(text, 'q', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (unsigned s = 0; s < N; s++) {
		uint64_t sid = sid_of(r, 0, s + 1);
		struct tg_event ev[62];
		unsigned n = 0;

		/* close order is a permutation of the id order */
		closed_at[s] = T0 + 1000000 + (uint64_t)((s * 7) % N) * 1000;
		ev[n++] = ev_open(sid, T0 + s, 0, "198.18.0.9", 1000);
		for (unsigned c = 0; c < 60; c++)
			ev[n++] = ev_cmd(sid, T0 + s + c, text, RULE_ALLOW, NULL);
		if (s % 6 != 5)
			ev[n++] = ev_close(sid, closed_at[s], EV_CLOSE_FIN);
		else
			closed_at[s] = 0; /* live */
		write_ok(r, ev, n);
	}
	/* about 24 x 60 x 370 bytes = 530 kB; keep it under 300 kB */
	removed = (unsigned)rec_retain(r, 0, 300 * 1000, 1000);
	assert_true(removed > 0);
	assert_true(removed < N - N / 6);
	assert_int_equal(count_sessions(r, NULL), N - removed);
	for (unsigned s = 0; s < N; s++) {
		if (closed_at[s] == 0)
			continue;
		if (rec_session(r, sid_of(r, 0, s + 1), &o) == 0) {
			json_decref(o);
			kept_closed++;
			if (closed_at[s] < min_kept)
				min_kept = closed_at[s];
		} else if (closed_at[s] > max_removed) {
			max_removed = closed_at[s];
		}
	}
	assert_int_equal(kept_closed + removed, N - N / 6);
	assert_true(max_removed < min_kept); /* the oldest closes went first */

	/* a limit below what the live sessions need removes every closed one, no live one */
	assert_int_equal(rec_retain(r, 0, 1, 1000), (int)kept_closed);
	assert_int_equal(rec_sessions(r, NULL, &arr), 0);
	assert_int_equal(json_array_size(arr), N / 6);
	json_array_foreach(arr, i, o)
		assert_true(json_is_true(json_object_get(o, "live")));
	json_decref(arr);
	assert_int_equal(verify_all(r, NULL), 0);
}

static void test_map_full(void **state)
{
	struct fx *f = *state;
	enum { BATCH = 32 };
	struct tg_event ev[BATCH];
	char text[380];
	uint64_t written = 0, sessions = 0;
	unsigned first_fail = 0, lost;
	json_t *o;
	int rc = 0;

	rec_close(f->r);
	rm_store(f->dir);
	f->r = open_rw(f->dir, 256 * 1024);                  /* a map of 64 pages */
	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* whole sessions, one per batch, until the map (grown 4x) is full */
	for (unsigned b = 0; b < 2000 && rc >= 0; b++) {
		uint64_t sid = sid_of(f->r, 0, b + 1);

		ev[0] = ev_open(sid, T0 + b * 100, 0, "198.18.0.5", 2000);
		for (unsigned i = 1; i < BATCH - 1; i++)
			ev[i] = ev_cmd(sid, T0 + b * 100 + i, text, RULE_ALLOW, NULL);
		ev[BATCH - 1] = ev_close(sid, T0 + b * 100 + 99, EV_CLOSE_FIN);
		rc = rec_write(f->r, ev, BATCH);
		if (rc >= 0) {
			written += BATCH;
			sessions++;
		} else {
			first_fail = b;
		}
	}
	assert_int_equal(rc, -1);
	assert_true(first_fail > 0);
	/* it grew: more was written than the configured map holds */
	assert_true(written * 400 > 256 * 1024);
	assert_true(rec_stats(f->r)->map_full >= 1);
	assert_int_equal(rec_stats(f->r)->events_lost, BATCH);
	assert_int_equal(rec_stats(f->r)->write_errors, 1);
	assert_int_equal(rec_stats(f->r)->events_written, written);
	/* again full: lost again, no crash */
	assert_int_equal(rec_write(f->r, ev, BATCH), -1);
	lost = (unsigned)rec_stats(f->r)->events_lost;
	assert_int_equal(lost, 2 * BATCH);
	/* what was committed is whole */
	assert_int_equal(verify_all(f->r, &o), 0);
	assert_int_equal(jint(o, "sessions"), sessions);
	json_decref(o);

	/* retention makes room (half of the map), then the same batch goes in */
	assert_true(rec_retain(f->r, 0, 512 * 1024, 10000) > 0);
	assert_int_equal(rec_write(f->r, ev, BATCH), BATCH);
	assert_int_equal(rec_stats(f->r)->events_lost, lost);
	assert_int_equal(verify_all(f->r, NULL), 0);
}

/* ---- a reader thread on the writer's store while it writes and grows its map ---- */

struct reader_arg {
	struct rec *r;
	atomic_int stop;
	unsigned rounds, failures, max_sessions;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;

	/* bounded by count as well as by the writer's stop flag */
	for (a->rounds = 0; !atomic_load(&a->stop) && a->rounds < 100000; a->rounds++) {
		json_t *v = NULL, *l = NULL;

		/* every snapshot a reader sees is a committed one: its chains verify */
		if (rec_verify(a->r, 0, &v) != 0 || rec_sessions(a->r, NULL, &l) != 0)
			a->failures++;
		else if (json_array_size(l) > a->max_sessions)
			a->max_sessions = (unsigned)json_array_size(l);
		json_decref(v);
		json_decref(l);
	}
	return NULL;
}

static void test_reader_thread(void **state)
{
	struct fx *f = *state;
	struct reader_arg a = { 0 };
	pthread_t th;

	rec_close(f->r);
	rm_store(f->dir);
	f->r = open_rw(f->dir, 512 * 1024); /* small: the map grows while the reader reads */
	a.r = f->r;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &a), 0);
	for (unsigned b = 0; b < 60; b++)
		write_session(f->r, sid_of(f->r, 0, b + 1), T0 + b * 100, T0 + b * 100 + 50, 0,
			      "alice", 20, RULE_ALLOW);
	atomic_store(&a.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(rec_stats(f->r)->map_full >= 1);        /* it did grow */
	assert_int_equal(rec_stats(f->r)->events_lost, 0);
	assert_true(a.rounds > 0);
	assert_int_equal(a.failures, 0);
	assert_true(a.max_sessions <= 60);
	assert_int_equal(count_sessions(f->r, NULL), 60);
}

/* ---- crash safety: a writer killed -9 in the middle of its work ---- */

static void crash_child(const char *dir, int fd)
{
	struct tg_event ev[64];
	struct rec *r;
	char err[256];
	uint64_t t_end;

	if (rec_open(dir, 64 * MB, 0, &r, err, sizeof(err)) < 0)
		_exit(2);
	{
		uint32_t boot = rec_boot(r);

		if (write(fd, &boot, sizeof(boot)) != sizeof(boot))
			_exit(3);
	}
	t_end = wall_ns() + 60ULL * 1000000000u; /* bounded even if the parent never kills */
	for (uint32_t b = 0; b < 100000 && wall_ns() < t_end; b++) {
		/* 8 sessions per batch: batch b opens sessions 8b..8b+7 and closes 8(b-1).. */
		unsigned n = 0;

		for (unsigned i = 0; i < 8; i++) {
			uint64_t sid = sid_of(r, 0, (uint64_t)b * 8 + i + 1);

			ev[n++] = ev_open(sid, T0 + b, 0, "198.18.0.7", (uint16_t)i);
			for (unsigned c = 0; c < 5; c++)
				ev[n++] = ev_cmd(sid, T0 + b, "INSERT INTO log VALUES (1)", RULE_ALLOW,
						 NULL);
			if (b > 0)
				ev[n++] = ev_close(sid_of(r, 0, (uint64_t)(b - 1) * 8 + i + 1), T0 + b,
						   EV_CLOSE_FIN);
		}
		if (rec_write(r, ev, n) != (int)n)
			_exit(4);
		if (write(fd, &b, sizeof(b)) != sizeof(b))
			_exit(5);
	}
	_exit(0);
}

static void test_crash_safety(void **state)
{
	struct fx *f = *state;
	uint32_t child_boot = 0, acked = 0, b;
	int p[2], status;
	uint64_t t_end;
	pid_t pid;
	json_t *o;

	rec_close(f->r); /* LMDB: no environment open across fork() */
	f->r = NULL;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		crash_child(f->dir, p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &child_boot, sizeof(child_boot)), sizeof(child_boot));
	/* kill it once it has committed 30 batches: somewhere inside a later one */
	t_end = wall_ns() + 60ULL * 1000000000u;
	while (acked < 30 && wall_ns() < t_end &&
	       read(p[0], &b, sizeof(b)) == sizeof(b))
		acked = b + 1;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* drain what it acknowledged before dying */
	while (read(p[0], &b, sizeof(b)) == sizeof(b))
		acked = b + 1;
	close(p[0]);
	assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
	assert_true(acked >= 30);

	f->r = open_rw(f->dir, 64 * MB);
	assert_int_equal(rec_boot(f->r), (uint16_t)(child_boot + 1));
	assert_int_equal(verify_all(f->r, &o), 0);
	assert_true((uint64_t)jint(o, "sessions") >= acked * 8ULL);
	json_decref(o);
	/* every acknowledged batch is there, whole */
	for (uint32_t i = 0; i < acked; i++) {
		uint64_t sid = (uint64_t)child_boot << 48 | ((uint64_t)i * 8 + 3 + 1);

		assert_int_equal(rec_session(f->r, sid, &o), 0);
		assert_true(jint(o, "commands") == 5);
		json_decref(o);
	}
	/* sessions the killed writer left open are closed as "lost", none stays live */
	{
		struct rec_filter live = { .live = 1, .verdict = -1 };
		assert_int_equal(rec_sessions(f->r, &live, &o), 0);
		json_t *arr = json_is_array(o) ? o : json_object_get(o, "sessions");
		assert_int_equal(json_array_size(arr), 0);
		json_decref(o);
		struct rec_filter all = { .verdict = -1, .limit = 1000 };
		assert_int_equal(rec_sessions(f->r, &all, &o), 0);
		arr = json_is_array(o) ? o : json_object_get(o, "sessions");
		size_t k, lost = 0;
		json_t *e;
		json_array_foreach(arr, k, e)
			lost += strcmp(json_string_value(json_object_get(e, "close_reason")) ?
				       json_string_value(json_object_get(e, "close_reason")) : "",
				       "lost") == 0;
		assert_true(lost > 0);
		json_decref(o);
	}
	/* and the store takes writes again */
	write_session(f->r, sid_of(f->r, 0, 1), T0, T0 + 1, 0, "after", 1, RULE_ALLOW);
	assert_int_equal(verify_all(f->r, NULL), 0);
}

/* Commits sync their data but leave the meta page to the next sync (MDB_NOMETASYNC):
 * rec_sync() flushes it once, only when a commit is waiting, and the slow path calls
 * it on a quiet tick. A read-only store has nothing to flush. */
static void test_sync_after_commit(void **state)
{
	struct fx *f = *state;
	const struct rec_stats *st = rec_stats(f->r);
	uint64_t base;
	struct rec *ro;
	char err[256];

	assert_int_equal(rec_sync(f->r), 0);
	base = st->meta_syncs;
	/* nothing committed since: nothing to flush */
	assert_int_equal(rec_sync(f->r), 0);
	assert_int_equal(st->meta_syncs, base);
	/* a session's batches: one flush for all of them, then nothing again */
	write_session(f->r, sid_of(f->r, 0, 1), T0, T0 + 1, 0, "SELECT 1", 1, RULE_ALLOW);
	assert_true(st->batches > 0);
	assert_int_equal(rec_sync(f->r), 0);
	assert_int_equal(st->meta_syncs, base + 1);
	assert_int_equal(rec_sync(f->r), 0);
	assert_int_equal(st->meta_syncs, base + 1);
	assert_int_equal(st->sync_errors, 0);
	assert_int_equal(rec_open(f->dir, 0, 1, &ro, err, sizeof(err)), 0);
	assert_int_equal(rec_sync(ro), 0);
	assert_int_equal(rec_stats(ro)->meta_syncs, 0);
	rec_close(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_and_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_edge_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters_and_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_sessions_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_continues_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_detects_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_head_and_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_after_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
