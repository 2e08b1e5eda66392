/* recorder.c - the recording store: open/close, boot counter, audit records and the
 * helpers the other rec_*.c files share (see recorder.h and rec_int.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "slowpath/rec_int.h"
#include "common/tg_log.h"

#define REC_MAX_DBS 16                /* ours, and room for reviews and bindings */

size_t rec_ev_len(const struct tg_event *ev)
{
	switch (ev->type) {
	case EV_SESSION_OPEN:
		return offsetof(struct tg_event, u) + sizeof(ev->u.open);
	case EV_AUTH:
		return offsetof(struct tg_event, u) + sizeof(ev->u.auth);
	case EV_COMMAND:
		return offsetof(struct tg_event, u.cmd.text) +
		       strnlen(ev->u.cmd.text, sizeof(ev->u.cmd.text));
	case EV_RESULT:
		return offsetof(struct tg_event, u) + sizeof(ev->u.result);
	case EV_ERROR:
		return offsetof(struct tg_event, u.error.text) +
		       strnlen(ev->u.error.text, sizeof(ev->u.error.text));
	case EV_SESSION_CLOSE:
		return offsetof(struct tg_event, u) + sizeof(ev->u.close);
	case EV_ROWS:
		return offsetof(struct tg_event, u.rows.text) +
		       strnlen(ev->u.rows.text, sizeof(ev->u.rows.text));
	default:
		return sizeof(*ev); /* unknown to this version: keep it whole */
	}
}

int rec_srec_load(const MDB_val *v, struct rec_srec *s)
{
	if (v->mv_size != sizeof(*s))
		return -1;
	memcpy(s, v->mv_data, sizeof(*s));
	return s->version == REC_SREC_VERSION ? 0 : -1;
}

int rec_erec_parse(const MDB_val *v, struct tg_event *ev, const uint8_t **bytes,
		   size_t *len, const uint8_t **hash)
{
	const uint8_t *p = v->mv_data;
	struct rec_ehdr h;

	if (v->mv_size < REC_EHDR_LEN + REC_HASH_LEN)
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.version != REC_EREC_VERSION || h.len > sizeof(*ev) ||
	    v->mv_size != REC_EHDR_LEN + (size_t)h.len + REC_HASH_LEN)
		return -1;
	memset(ev, 0, sizeof(*ev));
	memcpy(ev, p + REC_EHDR_LEN, h.len);
	*bytes = p + REC_EHDR_LEN;
	*len = h.len;
	*hash = p + REC_EHDR_LEN + h.len;
	return 0;
}

int rec_chain_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t prev[REC_HASH_LEN],
		   const void *bytes, size_t len, uint8_t out[REC_HASH_LEN])
{
	if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, prev, REC_HASH_LEN) ||
	    !EVP_DigestUpdate(ctx, bytes, len) || !EVP_DigestFinal_ex(ctx, out, NULL))
		return -1;
	return 0;
}

int rec_rd_begin(struct rec *r, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&r->map_lock);
	rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size, which needs this process
		 * to have no transaction, hence the exclusive lock. */
		pthread_rwlock_unlock(&r->map_lock);
		pthread_rwlock_wrlock(&r->map_lock);
		mdb_env_set_mapsize(r->env, 0);
		pthread_rwlock_unlock(&r->map_lock);
		pthread_rwlock_rdlock(&r->map_lock);
		rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0)
		pthread_rwlock_unlock(&r->map_lock);
	return rc;
}

void rec_rd_end(struct rec *r, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&r->map_lock);
}

int rec_wr_begin(struct rec *r, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&r->map_lock);
	rc = mdb_txn_begin(r->env, NULL, 0, txn);
	if (rc != 0)
		pthread_rwlock_unlock(&r->map_lock);
	return rc;
}

int rec_wr_end(struct rec *r, MDB_txn *txn, int commit)
{
	int rc = 0;

	if (commit) {
		rc = mdb_txn_commit(txn);
		if (rc == 0)
			r->meta_unsynced = 1;
	} else {
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&r->map_lock);
	return rc;
}

int rec_grow(struct rec *r)
{
	uint64_t want = r->map_size * 2;
	MDB_envinfo info;
	int rc;

	if (want > r->map_limit)
		want = r->map_limit;
	if (want <= r->map_size)
		return -1;
	pthread_rwlock_wrlock(&r->map_lock);
	rc = mdb_env_set_mapsize(r->env, want);
	if (rc == 0 && mdb_env_info(r->env, &info) == 0)
		r->map_size = info.me_mapsize;
	pthread_rwlock_unlock(&r->map_lock);
	if (rc != 0) {
		TG_ERR("recorder", "cannot grow the map to %" PRIu64 " bytes: %s", want,
		       mdb_strerror(rc));
		return -1;
	}
	TG_WARN("recorder", "map full: grown to %" PRIu64 " bytes (limit %" PRIu64 ")",
		r->map_size, r->map_limit);
	return 0;
}

uint64_t rec_used_bytes(struct rec *r, MDB_txn *txn)
{
	const MDB_dbi dbs[] = { r->db_main, r->db_meta, r->db_sess, r->db_ev, r->db_audit,
				r->db_closed };
	uint64_t pages = 2; /* the meta pages */
	unsigned psize = 4096;
	MDB_stat st;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if (mdb_stat(txn, dbs[i], &st) != 0)
			continue;
		pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
		psize = st.ms_psize;
	}
	return pages * psize;
}

const char *rec_res_name(const struct rec *r, uint16_t res_id)
{
	return res_id < r->n_res ? r->res_names[res_id] : "";
}

/* Sessions a previous boot left open (it crashed, or was killed with -9) can never get
 * their close event: they are closed now, reason "lost", at their last event's time,
 * so that they do not stay live forever and retention can remove them. */
static int rec_close_lost(struct rec *r, MDB_txn *txn, uint16_t boot)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, n = 0;

	if ((rc = mdb_cursor_open(txn, r->db_sess, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct rec_srec s;
		uint8_t ck[REC_CLOSED_KEY_LEN];
		uint64_t sid;
		if (v.mv_size != sizeof(s) || k.mv_size != 8)
			continue;
		memcpy(&s, v.mv_data, sizeof(s));
		sid = rec_get_be64(k.mv_data);
		if (s.close_reason != 0 || (uint16_t)(sid >> 48) == boot)
			continue;
		s.close_reason = EV_CLOSE_LOST;
		s.closed_ns = s.last_ns ? s.last_ns : s.opened_ns;
		if ((rc = mdb_cursor_put(cur, &k, &(MDB_val){ sizeof(s), &s }, MDB_CURRENT)) != 0)
			break;
		rec_closed_key(ck, s.closed_ns, sid);
		if ((rc = mdb_put(txn, r->db_closed, &(MDB_val){ sizeof(ck), ck },
				  &(MDB_val){ 0, "" }, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (n)
		fprintf(stderr, "recorder: %d sessions left open by an earlier run closed as lost\n", n);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Opens (creating in a writer) the named databases and bumps the boot counter. */
static int rec_open_dbs(struct rec *r, char *err, size_t errlen)
{
	unsigned cflag = r->readonly ? 0 : MDB_CREATE;
	uint32_t boot = 0, format = REC_FORMAT;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(r->env, NULL, r->readonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		goto lmdb_err;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &r->db_main)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", cflag, &r->db_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "sessions", cflag, &r->db_sess)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", cflag, &r->db_ev)) != 0 ||
	    (rc = mdb_dbi_open(txn, "audit", cflag, &r->db_audit)) != 0 ||
	    (rc = mdb_dbi_open(txn, "closed", cflag, &r->db_closed)) != 0)
		goto txn_err;
	k = (MDB_val){ 6, "format" };
	rc = mdb_get(txn, r->db_meta, &k, &v);
	if (rc == 0) {
		if (v.mv_size != sizeof(format) || memcmp(v.mv_data, &format, sizeof(format))) {
			mdb_txn_abort(txn);
			snprintf(err, errlen, "recorder: the store has another format (want %u)",
				 REC_FORMAT);
			return -1;
		}
	} else if (rc != MDB_NOTFOUND || r->readonly) {
		goto txn_err;
	} else if ((rc = mdb_put(txn, r->db_meta, &k, &(MDB_val){ sizeof(format), &format },
				 0)) != 0) {
		goto txn_err;
	}
	k = (MDB_val){ 4, "boot" };
	rc = mdb_get(txn, r->db_meta, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(boot))
		memcpy(&boot, v.mv_data, sizeof(boot));
	else if (rc != MDB_NOTFOUND && rc != 0)
		goto txn_err;
	if (!r->readonly) {
		/* Session ids keep 16 bits of it; 0 is skipped so that no sid is 0. */
		boot = (boot + 1) & 0xffff;
		if (boot == 0)
			boot = 1;
		if ((rc = mdb_put(txn, r->db_meta, &k, &(MDB_val){ sizeof(boot), &boot }, 0)) != 0)
			goto txn_err;
		if ((rc = rec_close_lost(r, txn, (uint16_t)boot)) != 0)
			goto txn_err;
	}
	r->boot = (uint16_t)boot;
	rc = mdb_txn_commit(txn); /* also for read-only: makes the handles usable */
	if (rc != 0)
		goto lmdb_err;
	return 0;
txn_err:
	mdb_txn_abort(txn);
lmdb_err:
	snprintf(err, errlen, "recorder: %s", rc == MDB_NOTFOUND ? "not a recording store" :
		 mdb_strerror(rc));
	return -1;
}

int rec_open(const char *dir, uint64_t map_size, int readonly, struct rec **out, char *err,
	     size_t errlen)
{
	struct rec *r = calloc(1, sizeof(*r));
	pthread_rwlockattr_t attr;
	MDB_envinfo info;
	int rc, dead;

	*out = NULL;
	if (r == NULL) {
		snprintf(err, errlen, "recorder: out of memory");
		return -1;
	}
	r->readonly = readonly;
	/* Writer preference: a stream of readers must not hold off a map growth. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->map_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (!readonly && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "recorder: cannot create %s: %s", dir, strerror(errno));
		goto err;
	}
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, REC_MAX_DBS)) != 0 ||
	    (map_size && (rc = mdb_env_set_mapsize(r->env, map_size)) != 0)) {
		snprintf(err, errlen, "recorder: %s", mdb_strerror(rc));
		goto err;
	}
	/* MDB_NOTLS: read transactions are not tied to a thread's TLS slot, so a reader
	 * thread may use this environment too (see recorder.h). MDB_NOMETASYNC: a commit
	 * syncs its data pages but writes its meta page without a second sync; the next
	 * commit or rec_sync() flushes it. LMDB keeps the store consistent either way (a
	 * machine crash can only undo the last commit); the second sync of every commit
	 * cost a small appliance 5-10 % of its transactions (docs/performance.md). */
	rc = mdb_env_open(r->env, dir, MDB_NOTLS | MDB_NOMETASYNC | (readonly ? MDB_RDONLY : 0), 0600);
	if (rc != 0) {
		snprintf(err, errlen, "recorder: cannot open %s: %s", dir, mdb_strerror(rc));
		goto err;
	}
	/* A writer killed -9 leaves its reader slots behind; they would pin old pages. */
	if (!readonly && mdb_reader_check(r->env, &dead) == 0 && dead > 0)
		TG_INFO("recorder", "cleared %d stale reader slots in %s", dead, dir);
	if (rec_open_dbs(r, err, errlen) < 0)
		goto err;
	mdb_env_info(r->env, &info);
	r->map_size = info.me_mapsize;
	r->map_limit = (map_size ? map_size : info.me_mapsize) * REC_GROW_FACTOR;
	if (r->map_limit < r->map_size)
		r->map_limit = r->map_size;
	r->audit_ctr = (uint32_t)tg_mono_ns();
	if (!readonly) {
		r->md = EVP_MD_fetch(NULL, "SHA256", NULL);
		r->mdctx = EVP_MD_CTX_new();
		if (r->md == NULL || r->mdctx == NULL) {
			snprintf(err, errlen, "recorder: OpenSSL has no SHA-256");
			goto err;
		}
	}
	*out = r;
	return 0;
err:
	rec_close(r);
	return -1;
}

int rec_sync(struct rec *r)
{
	int rc;

	if (r == NULL || r->readonly || !r->meta_unsynced)
		return 0;
	if ((rc = mdb_env_sync(r->env, 1)) != 0) {
		r->st.sync_errors++;
		/* the first failure, then at powers of two: this is retried every idle tick */
		if ((r->st.sync_errors & (r->st.sync_errors - 1)) == 0)
			TG_ERR("recorder", "flush of the store failed: %s (%" PRIu64 " so far)",
			       mdb_strerror(rc), r->st.sync_errors);
		return -1;
	}
	r->meta_unsynced = 0;
	r->st.meta_syncs++;
	return 0;
}

void rec_close(struct rec *r)
{
	if (r == NULL)
		return;
	rec_sync(r);
	if (r->env)
		mdb_env_close(r->env);
	EVP_MD_CTX_free(r->mdctx);
	EVP_MD_free(r->md);
	rec_cache_free(&r->cache);
	for (unsigned i = 0; i < r->n_res; i++)
		free(r->res_names[i]);
	free(r->res_names);
	pthread_rwlock_destroy(&r->map_lock);
	free(r);
}

uint16_t rec_boot(const struct rec *r)
{
	return r->boot;
}

void rec_set_resources(struct rec *r, const char *const *names, unsigned n)
{
	char **copy = calloc(n ? n : 1, sizeof(*copy));

	if (copy == NULL)
		return; /* out of memory: the old names stay */
	for (unsigned i = 0; i < n; i++) {
		copy[i] = strdup(names[i] ? names[i] : "");
		if (copy[i] == NULL) {
			while (i-- > 0)
				free(copy[i]);
			free(copy);
			return;
		}
	}
	for (unsigned i = 0; i < r->n_res; i++)
		free(r->res_names[i]);
	free(r->res_names);
	r->res_names = copy;
	r->n_res = n;
}

const struct rec_stats *rec_stats(const struct rec *r)
{
	return &r->st;
}

void rec_sid_str(uint64_t sid, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, sid);
}

int rec_sid_parse(const char *s, uint64_t *sid)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		unsigned d;

		if (i == 16)
			return -1;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	if (i == 0)
		return -1;
	*sid = v;
	return 0;
}

/* Writes one audit record in its own transaction. Returns 0 or an LMDB error. */
static int rec_audit_put(struct rec *r, uint64_t ts, const char *text, size_t len)
{
	uint8_t key[REC_AUDIT_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v = { len, (void *)text };
	MDB_txn *txn;
	int rc;

	if ((rc = rec_wr_begin(r, &txn)) != 0)
		return rc;
	/* Two writers (the daemon and tollctl) may share a nanosecond: the counter makes
	 * the key unique, and NOOVERWRITE makes sure of it. */
	for (int i = 0; i < 16; i++) {
		rec_put_be64(key, ts);
		rec_put_be32(key + 8, r->audit_ctr++);
		rc = mdb_put(txn, r->db_audit, &k, &v, MDB_NOOVERWRITE);
		if (rc != MDB_KEYEXIST)
			break;
	}
	if (rc != 0) {
		rec_wr_end(r, txn, 0);
		return rc;
	}
	return rec_wr_end(r, txn, 1);
}

int rec_audit(struct rec *r, const char *who, const char *action, json_t *detail)
{
	uint64_t ts = tg_wall_ns();
	char *text;
	json_t *o;
	int rc;

	if (r->readonly)
		return -1;
	o = json_pack("{s:I, s:s, s:s, s:O*}", "ts_ns", (json_int_t)ts, "who", who ? who : "",
		      "action", action ? action : "", "detail", detail);
	if (o == NULL)
		return -1;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return -1;
	rc = rec_audit_put(r, ts, text, strlen(text));
	if (rc == MDB_MAP_FULL) {
		r->st.map_full++;
		if (rec_grow(r) == 0)
			rc = rec_audit_put(r, ts, text, strlen(text));
	}
	free(text);
	if (rc != 0) {
		r->st.write_errors++;
		TG_ERR("recorder", "audit record lost: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}
