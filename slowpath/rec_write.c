/* rec_write.c - rec_write(): a batch of events becomes one LMDB write transaction that
 * extends each session's hash chain; and the writer's cache of open sessions' records. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "slowpath/rec_int.h"
#include "rules/rule-t.h"
#include "common/tg_log.h"

#define REC_CACHE_MIN  1024           /* initial slots */
#define REC_CACHE_SOFT 32768          /* above this many records, a batch starts afresh */

/* ---- the cache: open addressing with linear probing ---- */

static inline uint32_t rec_cache_hash(uint64_t sid)
{
	/* Session ids share their high bits (boot, worker): mix them all in. */
	sid ^= sid >> 33;
	sid *= 0xff51afd7ed558ccdULL;
	sid ^= sid >> 33;
	return (uint32_t)sid;
}

/* Slot of <sid>, or of the empty slot where it would go. */
static inline uint32_t rec_cache_slot(const struct rec_cache *c, uint64_t sid)
{
	uint32_t mask = c->cap - 1, i = rec_cache_hash(sid) & mask;

	while (c->tab[i].sid != 0 && c->tab[i].sid != sid)
		i = (i + 1) & mask;
	return i;
}

static int rec_cache_resize(struct rec_cache *c, uint32_t cap)
{
	struct rec_centry *old = c->tab, *tab = calloc(cap, sizeof(*tab));
	uint32_t old_cap = c->cap;

	if (tab == NULL)
		return -1;
	c->tab = tab;
	c->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].sid != 0)
			c->tab[rec_cache_slot(c, old[i].sid)] = old[i];
	free(old);
	return 0;
}

/* Makes room for <extra> new records and <extra> touched ones, so that no slot moves
 * during a batch. Returns 0 or -1 (out of memory). */
static int rec_cache_reserve(struct rec_cache *c, unsigned extra)
{
	uint32_t cap = c->cap ? c->cap : REC_CACHE_MIN;

	if (c->n > REC_CACHE_SOFT) {
		/* Between batches every cached record is also committed: forgetting them
		 * all costs one read per session later, and bounds the memory. */
		memset(c->tab, 0, (size_t)c->cap * sizeof(*c->tab));
		c->n = 0;
	}
	while ((uint64_t)(c->n + extra) * 2 > cap)
		cap *= 2;
	if (cap != c->cap && rec_cache_resize(c, cap) < 0)
		return -1;
	if (extra > c->touched_cap) {
		uint64_t *t = realloc(c->touched, extra * sizeof(*t));

		if (t == NULL)
			return -1;
		c->touched = t;
		c->touched_cap = extra;
	}
	c->n_touched = 0;
	c->gen++;
	return 0;
}

void rec_cache_drop(struct rec_cache *c, uint64_t sid)
{
	uint32_t mask, i, j;

	if (c->cap == 0)
		return;
	mask = c->cap - 1;
	i = rec_cache_slot(c, sid);
	if (c->tab[i].sid == 0)
		return;
	/* Backward-shift deletion: pull later entries of the probe run into the hole
	 * unless their home slot lies cyclically in (hole, their slot]. */
	for (j = i;;) {
		uint32_t home;

		c->tab[i].sid = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (c->tab[j].sid == 0) {
				c->n--;
				return;
			}
			home = rec_cache_hash(c->tab[j].sid) & mask;
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		c->tab[i] = c->tab[j];
		i = j;
	}
}

void rec_cache_free(struct rec_cache *c)
{
	free(c->tab);
	free(c->touched);
	memset(c, 0, sizeof(*c));
}

/* ---- records ---- */

/* Finds the last event of <sid> already stored and continues the chain from it (a
 * session record missing or behind its events). Returns 0 or an LMDB error. */
static int rec_chain_recover(struct rec *r, MDB_txn *txn, uint64_t sid, struct rec_srec *s)
{
	uint8_t key[REC_EV_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, r->db_ev, &cur)) != 0)
		return rc;
	rec_ev_key(key, sid, UINT32_MAX);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !(k.mv_size == REC_EV_KEY_LEN && memcmp(k.mv_data, key, sizeof(key)) == 0))
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == REC_EV_KEY_LEN && rec_get_be64(k.mv_data) == sid &&
	    v.mv_size >= REC_HASH_LEN) {
		s->next_seq = rec_get_be32((const uint8_t *)k.mv_data + 8) + 1;
		s->n_events = s->next_seq;
		memcpy(s->head, (const uint8_t *)v.mv_data + v.mv_size - REC_HASH_LEN,
		       REC_HASH_LEN);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A record for a session first seen with <ev>. */
static int rec_srec_new(struct rec *r, MDB_txn *txn, const struct tg_event *ev,
			struct rec_srec *s)
{
	memset(s, 0, sizeof(*s));
	s->version = REC_SREC_VERSION;
	s->proto = ev->proto;
	s->worker = ev->worker;
	s->res_id = ev->res_id;
	s->opened_ns = ev->ts_ns;
	snprintf(s->resource, sizeof(s->resource), "%s", rec_res_name(r, ev->res_id));
	/* An unknown sid may still have events (its record lost, or the open event was in
	 * a batch that failed after a restart): never overwrite them. */
	return rec_chain_recover(r, txn, ev->sid, s);
}

/* The cached record of <ev>'s session, loaded or created. NULL with *<rc> on error. */
static struct rec_srec *rec_session_get(struct rec *r, MDB_txn *txn,
					const struct tg_event *ev, int *rc)
{
	struct rec_cache *c = &r->cache;
	uint32_t i = rec_cache_slot(c, ev->sid);
	struct rec_centry *e = &c->tab[i];
	uint8_t key[REC_SID_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;

	if (e->sid == 0) {
		rec_put_be64(key, ev->sid);
		*rc = mdb_get(txn, r->db_sess, &k, &v);
		if (*rc == 0 && rec_srec_load(&v, &e->s) == 0)
			;
		else if (*rc == 0 || *rc == MDB_NOTFOUND)
			*rc = rec_srec_new(r, txn, ev, &e->s);
		if (*rc != 0)
			return NULL;
		e->sid = ev->sid;
		e->gen = 0;
		c->n++;
	}
	if (e->gen != c->gen) {
		e->gen = c->gen;
		c->touched[c->n_touched++] = e->sid;
	}
	return &e->s;
}

static void rec_copy_name(char *dst, size_t size, const char *src, size_t max)
{
	size_t n = strnlen(src, max);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	memset(dst + n, 0, size - n);
}

/* Folds <ev> into its session record; a close also files the session for retention. */
static int rec_srec_apply(struct rec *r, MDB_txn *txn, struct rec_srec *s,
			  const struct tg_event *ev)
{
	uint8_t key[REC_CLOSED_KEY_LEN];
	MDB_val k = { sizeof(key), key };
	int rc;

	s->n_events++;
	s->last_ns = ev->ts_ns;
	switch (ev->type) {
	case EV_SESSION_OPEN:
		s->flags |= REC_SF_OPENED;
		s->opened_ns = ev->ts_ns;
		s->proto = ev->proto;
		s->worker = ev->worker;
		s->res_id = ev->res_id;
		snprintf(s->resource, sizeof(s->resource), "%s", rec_res_name(r, ev->res_id));
		s->ip_ver = ev->u.open.ip_ver;
		memcpy(s->client, ev->u.open.client, sizeof(s->client));
		memcpy(s->server, ev->u.open.server, sizeof(s->server));
		s->cport = ev->u.open.cport;
		s->sport = ev->u.open.sport;
		break;
	case EV_AUTH:
		s->flags |= REC_SF_AUTH;
		rec_copy_name(s->user, sizeof(s->user), ev->u.auth.user, EV_NAME_MAX);
		rec_copy_name(s->database, sizeof(s->database), ev->u.auth.database, EV_NAME_MAX);
		rec_copy_name(s->app, sizeof(s->app), ev->u.auth.app, EV_NAME_MAX);
		break;
	case EV_COMMAND:
		s->n_commands++;
		if (ev->u.cmd.action < 8)
			s->verdicts |= (uint8_t)(1u << ev->u.cmd.action);
		if (ev->u.cmd.action == RULE_BLOCK || ev->u.cmd.action == RULE_RESET)
			s->n_blocked++;
		break;
	case EV_RESULT:
		s->n_masked += ev->u.result.masked;
		s->rows += ev->u.result.rows;
		break;
	case EV_ERROR:
		s->n_errors++;
		break;
	case EV_SESSION_CLOSE:
		if (s->close_reason != 0) {
			rec_closed_key(key, s->closed_ns, ev->sid); /* closed twice: refile */
			rc = mdb_del(txn, r->db_closed, &k, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return rc;
		}
		s->closed_ns = ev->ts_ns;
		s->close_reason = ev->u.close.reason ? ev->u.close.reason : EV_CLOSE_FIN;
		s->bytes_c2s = ev->u.close.bytes_c2s;
		s->bytes_s2c = ev->u.close.bytes_s2c;
		rec_closed_key(key, s->closed_ns, ev->sid);
		return mdb_put(txn, r->db_closed, &k, &(MDB_val){ 0, NULL }, 0);
	}
	return 0;
}

/* Appends <ev> to its session's chain under (sid, next_seq). */
static int rec_append(struct rec *r, MDB_txn *txn, struct rec_srec *s,
		      const struct tg_event *ev)
{
	size_t len = rec_ev_len(ev);
	uint8_t key[REC_EV_KEY_LEN], *p;
	MDB_val k = { sizeof(key), key }, v;
	struct rec_ehdr h = { REC_EREC_VERSION, ev->type, (uint16_t)len };
	int rc;

	for (int tries = 0;; tries++) {
		rec_ev_key(key, ev->sid, s->next_seq);
		v = (MDB_val){ REC_EHDR_LEN + len + REC_HASH_LEN, NULL };
		rc = mdb_put(txn, r->db_ev, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
		if (rc != MDB_KEYEXIST || tries > 0)
			break;
		/* The record is behind its events (it was rewritten or lost): continue the
		 * chain after the last stored event rather than overwrite one. */
		if ((rc = rec_chain_recover(r, txn, ev->sid, s)) != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	p = v.mv_data; /* reserved space, valid until the next put */
	memcpy(p, &h, REC_EHDR_LEN);
	memcpy(p + REC_EHDR_LEN, ev, len);
	if (rec_chain_hash(r->mdctx, r->md, s->head, ev, len, p + REC_EHDR_LEN + len) < 0)
		return EIO;
	memcpy(s->head, p + REC_EHDR_LEN + len, REC_HASH_LEN);
	s->next_seq++;
	return 0;
}

/* Writes the touched records back into <txn>. */
static int rec_writeback(struct rec *r, MDB_txn *txn)
{
	struct rec_cache *c = &r->cache;
	uint8_t key[REC_SID_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	for (uint32_t i = 0; i < c->n_touched; i++) {
		struct rec_centry *e = &c->tab[rec_cache_slot(c, c->touched[i])];

		rec_put_be64(key, e->sid);
		v = (MDB_val){ sizeof(e->s), NULL };
		if ((rc = mdb_put(txn, r->db_sess, &k, &v, MDB_RESERVE)) != 0)
			return rc;
		memcpy(v.mv_data, &e->s, sizeof(e->s));
	}
	return 0;
}

/* After the transaction: a failed one leaves the touched records ahead of the store,
 * so they go; a committed one keeps only the records of open sessions. */
static void rec_cache_settle(struct rec_cache *c, int failed)
{
	for (uint32_t i = 0; i < c->n_touched; i++) {
		uint64_t sid = c->touched[i];

		if (failed || c->tab[rec_cache_slot(c, sid)].s.close_reason != 0)
			rec_cache_drop(c, sid);
	}
	c->n_touched = 0;
}

/* One attempt at the batch. Returns 0 or an LMDB error (the transaction is gone). */
static int rec_write_txn(struct rec *r, const struct tg_event *ev, unsigned n)
{
	MDB_txn *txn;
	int rc;

	if (rec_cache_reserve(&r->cache, n) < 0)
		return ENOMEM;
	if ((rc = rec_wr_begin(r, &txn)) != 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		struct rec_srec *s;

		if (ev[i].sid == 0)
			continue; /* no session: counted lost by the caller */
		if ((s = rec_session_get(r, txn, &ev[i], &rc)) == NULL ||
		    (rc = rec_append(r, txn, s, &ev[i])) != 0 ||
		    (rc = rec_srec_apply(r, txn, s, &ev[i])) != 0)
			goto abort;
	}
	if ((rc = rec_writeback(r, txn)) != 0)
		goto abort;
	rc = rec_wr_end(r, txn, 1);
	rec_cache_settle(&r->cache, rc != 0);
	return rc;
abort:
	rec_wr_end(r, txn, 0);
	rec_cache_settle(&r->cache, 1);
	return rc;
}

int rec_write(struct rec *r, const struct tg_event *ev, unsigned n)
{
	uint64_t t0 = tg_mono_ns(), us;
	unsigned bad = 0;
	int rc;

	if (r->readonly)
		return -1;
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		bad += ev[i].sid == 0;
	rc = rec_write_txn(r, ev, n);
	if (rc == MDB_MAP_FULL) {
		r->st.map_full++;
		/* One growth per batch: doubling, up to REC_GROW_FACTOR x the configured
		 * size; past that, retention has to make room. */
		if (rec_grow(r) == 0) {
			rc = rec_write_txn(r, ev, n);
			if (rc == MDB_MAP_FULL)
				r->st.map_full++;
		}
	}
	us = (tg_mono_ns() - t0) / 1000;
	r->st.last_batch_us = us;
	if (us > r->st.max_batch_us)
		r->st.max_batch_us = us;
	if (rc != 0) {
		r->st.write_errors++;
		r->st.events_lost += n;
		/* Log the first failure and then at powers of two, not every batch. */
		if ((r->st.write_errors & (r->st.write_errors - 1)) == 0)
			TG_ERR("recorder", "batch of %u events lost: %s (%llu batches lost so far)",
			       n, rc == ENOMEM ? "out of memory" : mdb_strerror(rc),
			       (unsigned long long)r->st.write_errors);
		return -1;
	}
	r->st.batches++;
	r->st.events_written += n - bad;
	r->st.events_lost += bad;
	return (int)(n - bad);
}
