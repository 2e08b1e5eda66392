/* rec_verify.c - rec_verify(): recompute every session's hash chain and name the first
 * event that does not fit (tollctl verify). */
#include <errno.h>
#include <string.h>
#include "slowpath/rec_int.h"

/* What a verification pass carries along. */
struct rec_vctx {
	struct rec *r;
	EVP_MD *md;                   /* its own: rec_verify may run in a reader thread */
	EVP_MD_CTX *ctx;
	json_t *failed;               /* [ {id, seq, why}, ... ] */
	unsigned sessions, ok;
};

static int rec_vfail(struct rec_vctx *vc, uint64_t sid, int64_t seq, const char *why)
{
	char id[17];

	rec_sid_str(sid, id);
	return json_array_append_new(vc->failed, json_pack("{s:s, s:I, s:s}", "id", id,
							   "seq", (json_int_t)seq, "why", why));
}

/* Checks the events of <sid> against its record <s>. The cursor <ce> is on the first
 * event key >= (sid, 0) (*<rc> is that get's result) and is left on the first key of a
 * later session. Returns 0, or an LMDB error. */
static int rec_verify_one(struct rec_vctx *vc, MDB_cursor *ce, int *rc, MDB_val *k,
			  MDB_val *v, uint64_t sid, const struct rec_srec *s)
{
	uint8_t prev[REC_HASH_LEN] = { 0 }, h[REC_HASH_LEN];
	const char *why = NULL;
	int64_t bad = -1;
	uint32_t expect = 0;
	struct tg_event ev;

	for (; *rc == 0; *rc = mdb_cursor_get(ce, k, v, MDB_NEXT)) {
		const uint8_t *bytes, *hash;
		uint32_t seq;
		size_t len;

		if (k->mv_size != REC_EV_KEY_LEN || rec_get_be64(k->mv_data) != sid)
			break;
		if (why != NULL)
			continue; /* already failed: skip the rest of this session */
		seq = rec_get_be32((const uint8_t *)k->mv_data + 8);
		if (seq != expect) {
			why = "missing event";
			bad = expect;
		} else if (rec_erec_parse(v, &ev, &bytes, &len, &hash) < 0) {
			why = "bad record";
			bad = seq;
		} else if (rec_chain_hash(vc->ctx, vc->md, prev, bytes, len, h) < 0) {
			return EIO;
		} else if (memcmp(h, hash, REC_HASH_LEN) != 0) {
			why = "hash mismatch";
			bad = seq;
		} else {
			memcpy(prev, h, sizeof(prev));
			expect++;
		}
	}
	if (*rc != 0 && *rc != MDB_NOTFOUND)
		return *rc;
	if (why == NULL && expect < s->next_seq) {
		why = "missing event";        /* the tail is gone */
		bad = expect;
	} else if (why == NULL && (expect > s->next_seq || memcmp(prev, s->head, REC_HASH_LEN))) {
		why = "head mismatch";        /* events past the head, or a rewritten chain */
		bad = s->next_seq < expect ? s->next_seq : (int64_t)expect - 1;
	}
	vc->sessions++;
	if (why == NULL) {
		vc->ok++;
		return 0;
	}
	return rec_vfail(vc, sid, bad, why) == 0 ? 0 : ENOMEM;
}

/* Reports events that belong to no session record (record deleted) up to <below>
 * (exclusive; 0: all), leaving <ce> on the first event of <below> or later. */
static int rec_verify_orphans(struct rec_vctx *vc, MDB_cursor *ce, int *rc, MDB_val *k,
			      MDB_val *v, uint64_t below)
{
	uint8_t key[REC_EV_KEY_LEN];

	while (*rc == 0) {
		uint64_t sid = k->mv_size == REC_EV_KEY_LEN ? rec_get_be64(k->mv_data) : 0;

		if (below && sid >= below)
			break;
		if (rec_vfail(vc, sid, rec_get_be32((const uint8_t *)k->mv_data + 8),
			      "no session record") != 0)
			return ENOMEM;
		if (sid == UINT64_MAX) {
			*rc = MDB_NOTFOUND;
			break;
		}
		rec_ev_key(key, sid + 1, 0);
		*k = (MDB_val){ sizeof(key), key };
		*rc = mdb_cursor_get(ce, k, v, MDB_SET_RANGE);
	}
	return *rc == 0 || *rc == MDB_NOTFOUND ? 0 : *rc;
}

/* Walks sessions and events side by side (both in sid order): one pass over the store. */
static int rec_verify_all(struct rec_vctx *vc, MDB_txn *txn, MDB_cursor *ce)
{
	MDB_cursor *cs;
	MDB_val sk, sv, k, v;
	struct rec_srec s;
	int rc, erc;

	if ((rc = mdb_cursor_open(txn, vc->r->db_sess, &cs)) != 0)
		return rc;
	erc = mdb_cursor_get(ce, &k, &v, MDB_FIRST);
	for (rc = mdb_cursor_get(cs, &sk, &sv, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cs, &sk, &sv, MDB_NEXT)) {
		uint64_t sid;

		if (sk.mv_size != REC_SID_KEY_LEN)
			continue;
		sid = rec_get_be64(sk.mv_data);
		if ((rc = rec_verify_orphans(vc, ce, &erc, &k, &v, sid)) != 0)
			break;
		if (rec_srec_load(&sv, &s) < 0) {
			vc->sessions++;
			if ((rc = rec_vfail(vc, sid, -1, "bad record")) != 0)
				break;
			continue;
		}
		if ((rc = rec_verify_one(vc, ce, &erc, &k, &v, sid, &s)) != 0)
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = rec_verify_orphans(vc, ce, &erc, &k, &v, 0);
	mdb_cursor_close(cs);
	return rc;
}

int rec_verify(struct rec *r, uint64_t sid, json_t **out)
{
	struct rec_vctx vc = { .r = r };
	uint8_t key[REC_EV_KEY_LEN], skey[REC_SID_KEY_LEN];
	MDB_cursor *ce = NULL;
	struct rec_srec s;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, erc;

	*out = NULL;
	vc.md = EVP_MD_fetch(NULL, "SHA256", NULL);
	vc.ctx = EVP_MD_CTX_new();
	vc.failed = json_array();
	if (vc.md == NULL || vc.ctx == NULL || vc.failed == NULL)
		goto err;
	if (rec_rd_begin(r, &txn) != 0)
		goto err;
	if ((rc = mdb_cursor_open(txn, r->db_ev, &ce)) != 0)
		goto end;
	if (sid == 0) {
		rc = rec_verify_all(&vc, txn, ce);
	} else {
		rec_put_be64(skey, sid);
		k = (MDB_val){ sizeof(skey), skey };
		if ((rc = mdb_get(txn, r->db_sess, &k, &v)) != 0)
			goto end; /* no such session: an error, not a failed chain */
		if (rec_srec_load(&v, &s) < 0) {
			vc.sessions++;
			rc = rec_vfail(&vc, sid, -1, "bad record");
			goto end;
		}
		rec_ev_key(key, sid, 0);
		k = (MDB_val){ sizeof(key), key };
		erc = mdb_cursor_get(ce, &k, &v, MDB_SET_RANGE);
		rc = rec_verify_one(&vc, ce, &erc, &k, &v, sid, &s);
	}
end:
	if (ce)
		mdb_cursor_close(ce);
	rec_rd_end(r, txn);
	if (rc != 0)
		goto err;
	*out = json_pack("{s:i, s:i, s:o}", "sessions", vc.sessions, "ok", vc.ok,
			 "failed", vc.failed);
	vc.failed = NULL;
	EVP_MD_CTX_free(vc.ctx);
	EVP_MD_free(vc.md);
	if (*out == NULL)
		return -1;
	return json_array_size(json_object_get(*out, "failed")) ? 1 : 0;
err:
	json_decref(vc.failed);
	EVP_MD_CTX_free(vc.ctx);
	EVP_MD_free(vc.md);
	return -1;
}
