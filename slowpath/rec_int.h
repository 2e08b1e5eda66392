/* rec_int.h - the recorder's private parts: on-disk layouts, keys, the writer's state.
 *
 * Only slowpath/rec*.c include this file. The layouts below are the store's format
 * (REC_FORMAT, kept in meta "format"): a change that moves a field is a new format.
 *
 * Byte order: keys are big-endian, so that LMDB's memcmp order is time and id order;
 * record bodies are in host order (an LMDB file is not portable across architectures
 * anyway: it is a memory image of its B-trees).
 *
 * Lifetimes: an MDB_val returned by LMDB points into the map and is valid only until
 * the next update in the same transaction or the end of the transaction; every record
 * is therefore copied out (memcpy: LMDB values are only 2-byte aligned) before use.
 */
#ifndef TG_REC_INT_H
#define TG_REC_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include "common/tg_clock.h"
#include "slowpath/recorder.h"

#define REC_FORMAT        1           /* meta "format" */
#define REC_SREC_VERSION  1           /* struct rec_srec.version */
#define REC_EREC_VERSION  1           /* struct rec_ehdr.version */
#define REC_HASH_LEN      32          /* SHA-256 */
#define REC_RES_NAME_MAX  64          /* resource name kept in a session record */
#define REC_GROW_FACTOR   4           /* the map may grow to 4x the configured size */
#define REC_SID_KEY_LEN   8           /* sessions key: sid BE */
#define REC_EV_KEY_LEN    12          /* events key: sid BE + seq BE */
#define REC_CLOSED_KEY_LEN 16         /* closed key: closed_ns BE + sid BE */
#define REC_AUDIT_KEY_LEN 12          /* audit key: ts_ns BE + counter BE (32 bits) */

/* struct rec_srec.flags */
#define REC_SF_OPENED  0x01           /* an EV_SESSION_OPEN was recorded */
#define REC_SF_AUTH    0x02           /* an EV_AUTH was recorded */

/* A session record: the value of "sessions". Fixed size (408 bytes), host order.
 *   off  size  field
 *     0     2  version        REC_SREC_VERSION
 *     2     1  proto          enum dp_proto_id
 *     3     1  ip_ver         4 or 6; 0 if no open event was recorded
 *     4     2  res_id         resource index (config order)
 *     6     1  close_reason   enum ev_close_reason; 0 while live (the "closed" test)
 *     7     1  verdicts       bit (1 << action) for every action seen on a command
 *     8     1  worker         worker that saw the flow
 *     9     1  flags          REC_SF_*
 *    10     2  cport          client port, host order
 *    12     2  sport          server port, host order
 *    14     2  pad
 *    16    16  client         address, network order (IPv4 in the first 4 bytes)
 *    32    16  server
 *    48     8  opened_ns      open event time (or the first event's, if none)
 *    56     8  closed_ns      close event time; 0 while live
 *    64     8  last_ns        newest event's time
 *    72     8  bytes_c2s      from the close event
 *    80     8  bytes_s2c
 *    88     8  rows           sum of result rows
 *    96     4  n_events       events in the chain (== next_seq)
 *   100     4  n_commands
 *   104     4  n_blocked      commands with a block or reset verdict
 *   108     4  n_masked       result fields masked (sum of result events)
 *   112     4  n_errors       server errors
 *   116     4  next_seq       sequence number of the next event
 *   120    32  head           chain hash of event next_seq - 1 (zeros: no event)
 *   152    64  resource       resource name, NUL-padded
 *   216    64  user           from EV_AUTH, NUL-padded
 *   280    64  database
 *   344    64  app
 */
struct rec_srec {
	uint16_t version;
	uint8_t  proto;
	uint8_t  ip_ver;
	uint16_t res_id;
	uint8_t  close_reason;
	uint8_t  verdicts;
	uint8_t  worker;
	uint8_t  flags;
	uint16_t cport;
	uint16_t sport;
	uint16_t pad;
	uint32_t client[4];
	uint32_t server[4];
	uint64_t opened_ns;
	uint64_t closed_ns;
	uint64_t last_ns;
	uint64_t bytes_c2s;
	uint64_t bytes_s2c;
	uint64_t rows;
	uint32_t n_events;
	uint32_t n_commands;
	uint32_t n_blocked;
	uint32_t n_masked;
	uint32_t n_errors;
	uint32_t next_seq;
	uint8_t  head[REC_HASH_LEN];
	char     resource[REC_RES_NAME_MAX];
	char     user[EV_NAME_MAX];
	char     database[EV_NAME_MAX];
	char     app[EV_NAME_MAX];
};
_Static_assert(sizeof(struct rec_srec) == 408, "session record layout changed");

/* An event record, the value of "events":
 *   struct rec_ehdr (4 bytes) | len bytes: the event as sent | 32 bytes: chain hash.
 * The event bytes are the leading <len> bytes of its struct tg_event: the header and
 * the used part of the union (a command's text up to its NUL, an error's message up
 * to its NUL); the rest reads as zeros. The chain hash covers exactly these bytes:
 * hash = SHA-256(previous hash || event bytes). */
struct rec_ehdr {
	uint8_t  version;             /* REC_EREC_VERSION */
	uint8_t  type;                /* enum ev_type (a copy, for readers that filter) */
	uint16_t len;                 /* bytes of the event that follow */
};
#define REC_EHDR_LEN 4
_Static_assert(sizeof(struct rec_ehdr) == REC_EHDR_LEN, "event header layout changed");

/* One cached session record of the writer (open sessions only, between batches). */
struct rec_centry {
	uint64_t sid;                 /* 0: empty slot (0 is never a session id) */
	uint64_t gen;                 /* batch generation that last touched it */
	struct rec_srec s;            /* the record as it will be written back */
};

/* Open addressing, linear probing, power-of-two capacity. The writer's only state
 * besides LMDB; a failed transaction drops the entries it touched. */
struct rec_cache {
	struct rec_centry *tab;       /* cap slots */
	uint32_t cap;                 /* power of two */
	uint32_t n;                   /* used slots */
	uint64_t *touched;            /* sessions touched by the current batch */
	uint32_t n_touched;
	uint32_t touched_cap;
	uint64_t gen;                 /* current batch generation (starts at 1) */
};

struct rec {
	MDB_env *env;
	MDB_dbi db_main;              /* LMDB's main database (for size accounting) */
	MDB_dbi db_meta;
	MDB_dbi db_sess;
	MDB_dbi db_ev;
	MDB_dbi db_audit;
	MDB_dbi db_closed;            /* closed_ns BE + sid BE -> empty: retention order */
	int readonly;
	uint16_t boot;                /* boot counter of this open (writer) */
	uint64_t map_size;            /* current map size */
	uint64_t map_limit;           /* growth limit (REC_GROW_FACTOR x configured) */
	uint32_t audit_ctr;           /* second half of audit keys */
	/* Readers (any thread) hold it shared for a transaction's life; changing the map
	 * size needs it exclusive: LMDB allows mdb_env_set_mapsize() only while this
	 * process has no transaction. */
	pthread_rwlock_t map_lock;
	char **res_names;             /* rec_set_resources() copies */
	unsigned n_res;
	struct rec_stats st;
	/* writer only */
	EVP_MD *md;                   /* SHA-256, fetched once */
	EVP_MD_CTX *mdctx;            /* reused for every event (no per-event allocation) */
	struct rec_cache cache;
	int meta_unsynced;            /* a commit's meta page not yet flushed (rec_sync) */
};

/* ---- keys (recorder.c) ---- */
static inline void rec_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline void rec_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t rec_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline uint32_t rec_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void rec_ev_key(uint8_t k[REC_EV_KEY_LEN], uint64_t sid, uint32_t seq)
{
	rec_put_be64(k, sid);
	rec_put_be32(k + 8, seq);
}

static inline void rec_closed_key(uint8_t k[REC_CLOSED_KEY_LEN], uint64_t closed_ns,
				  uint64_t sid)
{
	rec_put_be64(k, closed_ns);
	rec_put_be64(k + 8, sid);
}

/* ---- shared helpers (recorder.c) ---- */

/* Bytes of <ev> that are recorded (header + used part of the union). */
size_t rec_ev_len(const struct tg_event *ev);

/* Copies a session record out of an LMDB value. Returns 0, or -1 if <v> is not a
 * session record of this version. */
int rec_srec_load(const MDB_val *v, struct rec_srec *s);

/* Splits an event record: *<ev> gets the bytes (zero-filled to the full struct),
 * *<hash> points at the stored hash inside <v> (valid as <v> is), *<bytes>/<len> at the
 * hashed bytes. Returns 0, or -1 if the record is malformed. */
int rec_erec_parse(const MDB_val *v, struct tg_event *ev, const uint8_t **bytes,
		   size_t *len, const uint8_t **hash);

/* <out> = SHA-256(<prev> || <bytes>) with the digest context <ctx>. Returns 0 or -1. */
int rec_chain_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t prev[REC_HASH_LEN],
		   const void *bytes, size_t len, uint8_t out[REC_HASH_LEN]);

/* Begins a read-only transaction, holding map_lock shared until rec_rd_end(); follows
 * a map grown by another process (MDB_MAP_RESIZED). Returns 0 or an LMDB error. */
int rec_rd_begin(struct rec *r, MDB_txn **txn);
void rec_rd_end(struct rec *r, MDB_txn *txn);

/* Begins the write transaction (map_lock shared). Returns 0 or an LMDB error. */
int rec_wr_begin(struct rec *r, MDB_txn **txn);
/* Commits (<commit> 1) or aborts <txn> and releases map_lock. Returns 0 or an LMDB
 * error of the commit (the transaction is gone either way). */
int rec_wr_end(struct rec *r, MDB_txn *txn, int commit);

/* Doubles the map (at most map_limit) after MDB_MAP_FULL; no transaction of this
 * process may be active. Returns 0 if it grew, -1 if at the limit or on error. */
int rec_grow(struct rec *r);

/* Live pages of the store in bytes (every database's branch, leaf and overflow pages,
 * the main database and the two meta pages), as seen by <txn>. */
uint64_t rec_used_bytes(struct rec *r, MDB_txn *txn);

/* Resource name of <res_id>, or "" if unknown. */
const char *rec_res_name(const struct rec *r, uint16_t res_id);

/* ---- cache (rec_write.c) ---- */
void rec_cache_drop(struct rec_cache *c, uint64_t sid);
void rec_cache_free(struct rec_cache *c);

#endif
