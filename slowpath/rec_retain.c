/* rec_retain.c - retention: whole closed sessions go, oldest close first, by age and
 * by the store's size, a bounded number per call. */
#include <stdlib.h>
#include <string.h>
#include "slowpath/rec_int.h"
#include "common/tg_log.h"

/* Deletes session <sid>: its events, its record, and its entry <ck> in "closed". */
static int rec_delete_session(struct rec *r, MDB_txn *txn, MDB_cursor *ev_cur, uint64_t sid,
			      const uint8_t ck[REC_CLOSED_KEY_LEN])
{
	uint8_t key[REC_EV_KEY_LEN], skey[REC_SID_KEY_LEN];
	MDB_val k, v;
	int rc;

	/* One search per event: a cursor left on the next item after mdb_cursor_del is
	 * an LMDB corner best not relied upon, and retention is not the hot path. */
	for (;;) {
		rec_ev_key(key, sid, 0);
		k = (MDB_val){ sizeof(key), key };
		rc = mdb_cursor_get(ev_cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0)
			return rc;
		if (k.mv_size != REC_EV_KEY_LEN || rec_get_be64(k.mv_data) != sid)
			break;
		if ((rc = mdb_cursor_del(ev_cur, 0)) != 0)
			return rc;
	}
	rec_put_be64(skey, sid);
	rc = mdb_del(txn, r->db_sess, &(MDB_val){ sizeof(skey), skey }, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = mdb_del(txn, r->db_closed, &(MDB_val){ REC_CLOSED_KEY_LEN, (void *)ck }, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One retention transaction. *<removed> gets the sessions deleted, <sids> their ids. */
static int rec_retain_txn(struct rec *r, uint64_t cutoff_ns, uint64_t max_bytes,
			  unsigned budget, unsigned *removed, uint64_t *sids)
{
	MDB_cursor *cc = NULL, *ce = NULL;
	uint8_t ck[REC_CLOSED_KEY_LEN];
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	*removed = 0;
	if ((rc = rec_wr_begin(r, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, r->db_closed, &cc)) != 0 ||
	    (rc = mdb_cursor_open(txn, r->db_ev, &ce)) != 0)
		goto abort;
	while (*removed < budget) {
		uint64_t closed_ns, sid;

		rc = mdb_cursor_get(cc, &k, &v, MDB_FIRST);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0)
			goto abort;
		if (k.mv_size != REC_CLOSED_KEY_LEN) { /* not ours: drop the stray key */
			if ((rc = mdb_cursor_del(cc, 0)) != 0)
				goto abort;
			continue;
		}
		memcpy(ck, k.mv_data, sizeof(ck));
		closed_ns = rec_get_be64(ck);
		sid = rec_get_be64(ck + 8);
		if (!(cutoff_ns && closed_ns < cutoff_ns) &&
		    !(max_bytes && rec_used_bytes(r, txn) > max_bytes))
			break; /* the oldest closed session is young enough and the store small */
		if ((rc = rec_delete_session(r, txn, ce, sid, ck)) != 0)
			goto abort;
		sids[(*removed)++] = sid;
	}
	mdb_cursor_close(ce);
	mdb_cursor_close(cc);
	return rec_wr_end(r, txn, 1);
abort:
	if (ce)
		mdb_cursor_close(ce);
	if (cc)
		mdb_cursor_close(cc);
	rec_wr_end(r, txn, 0);
	*removed = 0;
	return rc;
}

/* Notes the time of the last retention in meta "retained". Its own commit is what makes
 * the pages just freed usable: LMDB keeps the previous snapshot intact, so a page freed
 * by commit N is reused from commit N + 2 on. */
static void rec_retain_mark(struct rec *r, uint64_t now)
{
	MDB_txn *txn;

	if (rec_wr_begin(r, &txn) != 0)
		return;
	if (mdb_put(txn, r->db_meta, &(MDB_val){ 8, "retained" },
		    &(MDB_val){ sizeof(now), &now }, 0) != 0) {
		rec_wr_end(r, txn, 0);
		return;
	}
	rec_wr_end(r, txn, 1);
}

int rec_retain(struct rec *r, uint64_t max_age_s, uint64_t max_bytes, unsigned budget)
{
	uint64_t now = tg_wall_ns(), cutoff = 0, *sids;
	unsigned removed = 0;
	int rc;

	if (r->readonly || budget == 0 || (max_age_s == 0 && max_bytes == 0))
		return 0;
	if (max_age_s && max_age_s < now / 1000000000u)
		cutoff = now - max_age_s * 1000000000u;
	if ((sids = calloc(budget, sizeof(*sids))) == NULL)
		return 0;
	rc = rec_retain_txn(r, cutoff, max_bytes, budget, &removed, sids);
	if (rc == MDB_MAP_FULL) {
		/* Deleting copies pages too; with the map full to the last page, delete
		 * one session at a time (each frees pages for the next). */
		r->st.map_full++;
		for (unsigned i = 0; i < budget; i++) {
			unsigned one = 0;

			rc = rec_retain_txn(r, cutoff, max_bytes, 1, &one, sids + removed);
			removed += one;
			if (rc != 0 || one == 0)
				break;
		}
	}
	if (rc != 0) {
		r->st.write_errors++;
		TG_ERR("recorder", "retention failed: %s", mdb_strerror(rc));
	}
	if (removed > 0)
		rec_retain_mark(r, now);
	/* A late event may have cached a closed session's record: forget the deleted. */
	for (unsigned i = 0; i < removed; i++)
		rec_cache_drop(&r->cache, sids[i]);
	free(sids);
	r->st.sessions_pruned += removed;
	return (int)removed;
}
