/* rec_read.c - the readers: sessions, one session, its events, audit records, as JSON,
 * each from one read-only transaction (never blocks the writer). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "slowpath/rec_int.h"
#include "rules/rule-t.h"
#include "dataplane/dp_config-t.h"

#define REC_LIST_DEFAULT   100        /* sessions and audit records per page */
#define REC_EVENTS_DEFAULT 1000       /* events per page */

static const char *const rec_type_names[] = {
	[EV_SESSION_OPEN] = "open", [EV_AUTH] = "auth", [EV_COMMAND] = "command",
	[EV_RESULT] = "result", [EV_ERROR] = "error", [EV_SESSION_CLOSE] = "close",
	[EV_ROWS] = "rows",
};
static const char *const rec_action_names[] = {
	[RULE_ALLOW] = "allow", [RULE_ALERT] = "alert", [RULE_MASK] = "mask",
	[RULE_REVIEW] = "review", [RULE_BLOCK] = "block", [RULE_RESET] = "reset",
};
static const char *const rec_close_names[] = {
	[EV_CLOSE_FIN] = "fin", [EV_CLOSE_RST] = "rst", [EV_CLOSE_IDLE] = "idle",
	[EV_CLOSE_POLICY] = "policy", [EV_CLOSE_KILLED] = "killed",
	[EV_CLOSE_SHUTDOWN] = "shutdown", [EV_CLOSE_LOST] = "lost",
};
static const char *const rec_proto_names[] = {
	[DP_PROTO_NONE] = "none", [DP_PROTO_PG] = "postgresql", [DP_PROTO_MYSQL] = "mysql",
	[DP_PROTO_REDIS] = "redis", [DP_PROTO_HTTP] = "http", [DP_PROTO_TEST] = "test",
};

/* Name <v> in <names> (<n> entries), or "unknown". */
static const char *rec_name(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : "unknown";
}
#define REC_NAME(tab, v) rec_name(tab, sizeof(tab) / sizeof(tab[0]), v)

/* RFC 3339 in UTC with nanoseconds: 2026-11-29T02:44:05.123456789Z. */
static json_t *rec_json_time(uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	char buf[48];
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%09" PRIu64 "Z", ns % 1000000000u);
	return json_string(buf);
}

/* A JSON string from text of at most <max> bytes that came off the wire: ends at the
 * first NUL, and every byte that is not part of valid UTF-8 becomes U+FFFD (jansson
 * refuses invalid UTF-8, and a statement may be in any encoding). */
static json_t *rec_json_text(const char *s, size_t max)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strnlen(s, max), o = 0;
	json_t *j = json_stringn(s, n);
	char *buf;

	if (j != NULL)
		return j;
	if ((buf = malloc(n * 3 + 1)) == NULL)
		return json_string("");
	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 :
			     (p[i] & 0xf8) == 0xf0 ? 4 : 0;
		int ok = len > 0 && i + len <= n;

		for (size_t k = 1; ok && k < len; k++)
			ok = (p[i + k] & 0xc0) == 0x80;
		/* overlong forms, surrogates and code points above U+10FFFF */
		if (ok && len == 2)
			ok = p[i] >= 0xc2;
		else if (ok && len == 3)
			ok = !(p[i] == 0xe0 && p[i + 1] < 0xa0) && !(p[i] == 0xed && p[i + 1] >= 0xa0);
		else if (ok && len == 4)
			ok = !(p[i] == 0xf0 && p[i + 1] < 0x90) && p[i] <= 0xf4 &&
			     !(p[i] == 0xf4 && p[i + 1] >= 0x90);
		if (ok) {
			memcpy(buf + o, p + i, len);
			o += len;
			i += len;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j ? j : json_string("");
}

static json_t *rec_json_hex(const uint8_t *b, size_t n)
{
	char buf[2 * REC_HASH_LEN + 1];

	if (n > REC_HASH_LEN)
		n = REC_HASH_LEN;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	buf[2 * n] = '\0';
	return json_string(buf);
}

static json_t *rec_json_sid(uint64_t sid)
{
	char buf[17];

	rec_sid_str(sid, buf);
	return json_string(buf);
}

/* An address as text, or null if the version is unknown. */
static json_t *rec_json_addr(uint8_t ip_ver, const uint32_t a[4])
{
	char buf[INET6_ADDRSTRLEN];

	if (ip_ver == 4 && inet_ntop(AF_INET, a, buf, sizeof(buf)))
		return json_string(buf);
	if (ip_ver == 6 && inet_ntop(AF_INET6, a, buf, sizeof(buf)))
		return json_string(buf);
	return json_null();
}

static void rec_set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v ? v : json_null());
}

static json_t *rec_json_u64(uint64_t v)
{
	return json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
}

/* The session object of recorder.h; <detail> adds the chain head. */
static json_t *rec_session_json(uint64_t sid, const struct rec_srec *s,
				int detail)
{
	int closed = s->close_reason != 0;
	json_t *o = json_object(), *verdicts = json_array();

	if (o == NULL || verdicts == NULL) {
		json_decref(o);
		json_decref(verdicts);
		return NULL;
	}
	rec_set(o, "id", rec_json_sid(sid));
	rec_set(o, "opened", rec_json_time(s->opened_ns));
	rec_set(o, "opened_ns", rec_json_u64(s->opened_ns));
	rec_set(o, "closed", closed ? rec_json_time(s->closed_ns) : NULL);
	rec_set(o, "closed_ns", closed ? rec_json_u64(s->closed_ns) : NULL);
	rec_set(o, "live", json_boolean(!closed));
	rec_set(o, "resource", rec_json_text(s->resource, sizeof(s->resource)));
	rec_set(o, "res_id", json_integer(s->res_id));
	rec_set(o, "proto", json_string(REC_NAME(rec_proto_names, s->proto)));
	rec_set(o, "worker", json_integer(s->worker));
	rec_set(o, "client", rec_json_addr(s->ip_ver, s->client));
	rec_set(o, "client_port", s->ip_ver ? json_integer(s->cport) : NULL);
	rec_set(o, "server", rec_json_addr(s->ip_ver, s->server));
	rec_set(o, "server_port", s->ip_ver ? json_integer(s->sport) : NULL);
	rec_set(o, "user", rec_json_text(s->user, sizeof(s->user)));
	rec_set(o, "database", rec_json_text(s->database, sizeof(s->database)));
	rec_set(o, "app", rec_json_text(s->app, sizeof(s->app)));
	rec_set(o, "events", json_integer(s->n_events));
	rec_set(o, "commands", json_integer(s->n_commands));
	rec_set(o, "blocked", json_integer(s->n_blocked));
	rec_set(o, "masked", json_integer(s->n_masked));
	rec_set(o, "errors", json_integer(s->n_errors));
	rec_set(o, "rows", rec_json_u64(s->rows));
	rec_set(o, "bytes_c2s", rec_json_u64(s->bytes_c2s));
	rec_set(o, "bytes_s2c", rec_json_u64(s->bytes_s2c));
	for (unsigned a = 0; a < 8; a++)
		if (s->verdicts & (1u << a))
			json_array_append_new(verdicts, json_string(REC_NAME(rec_action_names, a)));
	rec_set(o, "verdicts", verdicts);
	rec_set(o, "close_reason", closed ?
		json_string(REC_NAME(rec_close_names, s->close_reason)) : NULL);
	if (detail) {
		rec_set(o, "chain", rec_json_hex(s->head, REC_HASH_LEN));
		rec_set(o, "next_seq", json_integer(s->next_seq));
	}
	return o;
}

static int rec_filter_match(const struct rec_filter *f, const struct rec_srec *s)
{
	if (f->since_ns && s->opened_ns < f->since_ns)
		return 0;
	if (f->until_ns && s->opened_ns >= f->until_ns)
		return 0;
	if (f->resource && strncmp(s->resource, f->resource, sizeof(s->resource)) != 0)
		return 0;
	if (f->user && strncmp(s->user, f->user, sizeof(s->user)) != 0)
		return 0;
	if (f->verdict >= 0 && (f->verdict > 7 || !(s->verdicts & (1u << f->verdict))))
		return 0;
	if (f->live && s->close_reason != 0)
		return 0;
	return 1;
}

/* Starts a list read: an empty array in *<arr> and a read transaction in *<txn>.
 * Returns 0, or -1 with nothing to free. */
static int rec_list_begin(struct rec *r, MDB_txn **txn, json_t **arr)
{
	if ((*arr = json_array()) == NULL)
		return -1;
	if (rec_rd_begin(r, txn) != 0) {
		json_decref(*arr);
		return -1;
	}
	return 0;
}

/* Ends a list read started by rec_list_begin(): closes <cur> (may be NULL) and <txn>.
 * With <rc> 0 hands <arr> out in *<out> and returns 0; otherwise frees it and returns
 * -1. */
static int rec_list_end(struct rec *r, MDB_txn *txn, MDB_cursor *cur, int rc, json_t *arr,
			json_t **out)
{
	if (cur)
		mdb_cursor_close(cur);
	rec_rd_end(r, txn);
	if (rc != 0) {
		json_decref(arr);
		return -1;
	}
	*out = arr;
	return 0;
}

int rec_sessions(struct rec *r, const struct rec_filter *f, json_t **out)
{
	static const struct rec_filter none = { .verdict = -1 };
	uint8_t key[REC_SID_KEY_LEN];
	MDB_cursor *cur = NULL;
	struct rec_srec s;
	unsigned limit, n = 0;
	MDB_txn *txn;
	MDB_val k, v;
	json_t *arr;
	int rc;

	*out = NULL;
	if (f == NULL)
		f = &none;
	limit = f->limit ? f->limit : REC_LIST_DEFAULT;
	if (rec_list_begin(r, &txn, &arr) != 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, r->db_sess, &cur)) != 0)
		goto done;
	/* Newest first is highest id first; before_sid pages backwards from there. */
	if (f->before_sid) {
		rec_put_be64(key, f->before_sid);
		k = (MDB_val){ sizeof(key), key };
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST) :
		     rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : rc;
		/* SET_RANGE may land on a larger key, LAST on any: skip to below before_sid */
		while (rc == 0 && (k.mv_size != REC_SID_KEY_LEN ||
				   rec_get_be64(k.mv_data) >= f->before_sid))
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	for (; rc == 0 && n < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		json_t *o;

		if (k.mv_size != REC_SID_KEY_LEN || rec_srec_load(&v, &s) < 0 ||
		    !rec_filter_match(f, &s))
			continue;
		if ((o = rec_session_json(rec_get_be64(k.mv_data), &s, 0)) == NULL) {
			rc = ENOMEM;
			break;
		}
		json_array_append_new(arr, o);
		n++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
done:
	return rec_list_end(r, txn, cur, rc, arr, out);
}

/* Reads session <sid>'s record in <txn>. Returns 0, MDB_NOTFOUND or an error. */
static int rec_srec_get(struct rec *r, MDB_txn *txn, uint64_t sid, struct rec_srec *s)
{
	uint8_t key[REC_SID_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	rec_put_be64(key, sid);
	if ((rc = mdb_get(txn, r->db_sess, &k, &v)) != 0)
		return rc;
	return rec_srec_load(&v, s) == 0 ? 0 : MDB_CORRUPTED;
}

int rec_session(struct rec *r, uint64_t sid, json_t **out)
{
	struct rec_srec s;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	if (rec_rd_begin(r, &txn) != 0)
		return -1;
	rc = rec_srec_get(r, txn, sid, &s);
	rec_rd_end(r, txn);
	if (rc != 0)
		return -1;
	*out = rec_session_json(sid, &s, 1);
	return *out ? 0 : -1;
}

/* One event as JSON: {seq, ts, ts_ns, type, hash, ...the type's fields}. */
static json_t *rec_event_json(uint32_t seq, const struct tg_event *ev, const uint8_t *hash)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	rec_set(o, "seq", json_integer(seq));
	rec_set(o, "ts", rec_json_time(ev->ts_ns));
	rec_set(o, "ts_ns", rec_json_u64(ev->ts_ns));
	rec_set(o, "type", json_string(REC_NAME(rec_type_names, ev->type)));
	rec_set(o, "worker", json_integer(ev->worker));
	rec_set(o, "hash", rec_json_hex(hash, REC_HASH_LEN));
	switch (ev->type) {
	case EV_SESSION_OPEN:
		rec_set(o, "client", rec_json_addr(ev->u.open.ip_ver, ev->u.open.client));
		rec_set(o, "client_port", json_integer(ev->u.open.cport));
		rec_set(o, "server", rec_json_addr(ev->u.open.ip_ver, ev->u.open.server));
		rec_set(o, "server_port", json_integer(ev->u.open.sport));
		rec_set(o, "res_id", json_integer(ev->res_id));
		rec_set(o, "proto", json_string(REC_NAME(rec_proto_names, ev->proto)));
		break;
	case EV_AUTH:
		rec_set(o, "user", rec_json_text(ev->u.auth.user, EV_NAME_MAX));
		rec_set(o, "database", rec_json_text(ev->u.auth.database, EV_NAME_MAX));
		rec_set(o, "app", rec_json_text(ev->u.auth.app, EV_NAME_MAX));
		break;
	case EV_COMMAND: {
		char fp[17];

		snprintf(fp, sizeof(fp), "%016" PRIx64, ev->u.cmd.fp_hash);
		rec_set(o, "text", rec_json_text(ev->u.cmd.text, EV_TEXT_MAX));
		rec_set(o, "len", json_integer(ev->u.cmd.len));
		rec_set(o, "action", json_string(REC_NAME(rec_action_names, ev->u.cmd.action)));
		rec_set(o, "rule", rec_json_text(ev->u.cmd.rule, EV_NAME_MAX));
		rec_set(o, "fp_hash", json_string(fp));
		rec_set(o, "truncated", json_boolean(ev->flags & EV_F_TRUNCATED));
		rec_set(o, "normalized", json_boolean(ev->flags & EV_F_NORMALIZED));
		break;
	}
	case EV_RESULT:
		rec_set(o, "rows", rec_json_u64(ev->u.result.rows));
		rec_set(o, "bytes", rec_json_u64(ev->u.result.bytes));
		rec_set(o, "masked", json_integer(ev->u.result.masked));
		rec_set(o, "duration_us", json_integer(ev->u.result.duration_us));
		rec_set(o, "tag", rec_json_text(ev->u.result.tag, sizeof(ev->u.result.tag)));
		break;
	case EV_ERROR:
		rec_set(o, "code", rec_json_text(ev->u.error.code, sizeof(ev->u.error.code)));
		rec_set(o, "text", rec_json_text(ev->u.error.text, sizeof(ev->u.error.text)));
		break;
	case EV_ROWS:
		rec_set(o, "n", json_integer(ev->u.rows.n));
		rec_set(o, "text", rec_json_text(ev->u.rows.text, EV_TEXT_MAX));
		rec_set(o, "truncated", json_boolean(ev->flags & EV_F_TRUNCATED));
		break;
	case EV_SESSION_CLOSE:
		rec_set(o, "reason", json_string(REC_NAME(rec_close_names, ev->u.close.reason)));
		rec_set(o, "bytes_c2s", rec_json_u64(ev->u.close.bytes_c2s));
		rec_set(o, "bytes_s2c", rec_json_u64(ev->u.close.bytes_s2c));
		break;
	}
	return o;
}

int rec_events(struct rec *r, uint64_t sid, uint32_t from, uint32_t limit, json_t **out)
{
	uint8_t key[REC_EV_KEY_LEN];
	MDB_cursor *cur = NULL;
	struct rec_srec s;
	struct tg_event ev;
	MDB_txn *txn;
	MDB_val k, v;
	json_t *arr;
	uint32_t n = 0;
	int rc;

	*out = NULL;
	if (limit == 0)
		limit = REC_EVENTS_DEFAULT;
	if (rec_list_begin(r, &txn, &arr) != 0)
		return -1;
	if ((rc = rec_srec_get(r, txn, sid, &s)) != 0 ||
	    (rc = mdb_cursor_open(txn, r->db_ev, &cur)) != 0)
		goto done;
	rec_ev_key(key, sid, from);
	k = (MDB_val){ sizeof(key), key };
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < limit;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *bytes, *hash;
		size_t len;
		json_t *o;

		if (k.mv_size != REC_EV_KEY_LEN || rec_get_be64(k.mv_data) != sid)
			break;
		if (rec_erec_parse(&v, &ev, &bytes, &len, &hash) < 0)
			continue; /* malformed: rec_verify names it */
		if ((o = rec_event_json(rec_get_be32((const uint8_t *)k.mv_data + 8), &ev,
					hash)) == NULL) {
			rc = ENOMEM;
			break;
		}
		json_array_append_new(arr, o);
		n++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
done:
	return rec_list_end(r, txn, cur, rc, arr, out);
}

int rec_audit_list(struct rec *r, unsigned limit, json_t **out)
{
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	json_t *arr;
	unsigned n = 0;
	int rc;

	*out = NULL;
	if (limit == 0)
		limit = REC_LIST_DEFAULT;
	if (rec_list_begin(r, &txn, &arr) != 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, r->db_audit, &cur)) != 0)
		goto done;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && n < limit;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		json_t *o;

		if (k.mv_size != REC_AUDIT_KEY_LEN)
			continue;
		o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			continue;
		}
		rec_set(o, "ts", rec_json_time(rec_get_be64(k.mv_data)));
		json_array_append_new(arr, o);
		n++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
done:
	return rec_list_end(r, txn, cur, rc, arr, out);
}
