/* recorder.h - session recordings in LMDB (DESIGN.md §5).
 *
 * One LMDB environment (a directory) with named databases:
 *   meta      "boot" -> the daemon start counter (session ids embed it), format version;
 *   sessions  session id (8 bytes, big-endian) -> a session record (who, from where, to
 *             which resource, when, counts, the hash chain head, close reason);
 *   events    session id + sequence number (8 + 4 bytes, big-endian) -> one event record
 *             with its SHA-256 chain hash: hash(i) = SHA-256(hash(i-1) || event bytes),
 *             hash(-1) = 32 zero bytes; so altering, removing or reordering an event is
 *             detectable (rec_verify);
 *   audit     time (8 bytes BE) + counter -> a JSON object (who did what via the API).
 * The writer is the slow path only: rec_write() turns a batch of events into one write
 * transaction (MDB_NOSYNC is not used: a committed batch survives a crash). Readers
 * (API, tollctl) use read-only transactions, from any thread or process, and never block
 * the writer (LMDB MVCC).
 *
 * Threads: one thread writes. The read functions may be called from other threads on
 * the same struct rec (MDB_NOTLS; each call uses its own read transaction; a lock makes
 * map growth wait for them). Never open a second struct rec on the same directory in
 * one process (LMDB forbids it); other processes may open it read-only (tollctl).
 * Also in the store: "closed" (close time + sid -> empty, the order retention follows)
 * and meta keys "format", "boot", "retained". rec_events' limit 0 means 1000;
 * rec_verify also reports "bad record" and "no session record" (seq -1 when no event
 * applies); rec_write counts an event with session id 0 as lost.
 */
#ifndef TG_RECORDER_H
#define TG_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "slowpath/event-t.h"

struct rec;

/* Recorder counters (read by /metrics). */
struct rec_stats {
	uint64_t events_written;      /* events committed */
	uint64_t batches;             /* write transactions committed */
	uint64_t write_errors;        /* failed transactions (their events are lost, counted) */
	uint64_t events_lost;         /* events not recorded because of write errors */
	uint64_t map_full;            /* MDB_MAP_FULL seen (disk/map exhausted) */
	uint64_t last_batch_us;       /* duration of the last batch */
	uint64_t max_batch_us;        /* longest batch */
	uint64_t sessions_pruned;     /* sessions removed by retention */
	uint64_t meta_syncs;          /* rec_sync() calls that flushed a commit's meta page */
	uint64_t sync_errors;         /* rec_sync() flushes that failed */
};

/* Opens (creating if needed) the recording store in directory <dir> with a map of
 * <map_size> bytes. <readonly>: for readers (tollctl, offline). Increments the boot
 * counter unless read-only. Returns 0, or -1 with a message in <err>. */
int rec_open(const char *dir, uint64_t map_size, int readonly, struct rec **out, char *err,
	     size_t errlen);
void rec_close(struct rec *r);

/* The boot counter of this open (writer), to build session ids:
 * sid = boot << 48 | worker << 40 | per-worker counter. */
uint16_t rec_boot(const struct rec *r);

/* Resource names for records (index = res_id). <names> is copied. */
void rec_set_resources(struct rec *r, const char *const *names, unsigned n);

/* Writes <n> events in one transaction, extending each session's hash chain. Returns
 * the number written, or -1 on an LMDB error (the batch is lost and counted). */
int rec_write(struct rec *r, const struct tg_event *ev, unsigned n);

/* Flushes the meta page of the last commit, if one is not yet on disk. Commits sync
 * their data pages but not their meta page (MDB_NOMETASYNC, one sync a commit
 * instead of two); the next commit's sync flushes it, and so does this, which the
 * slow path calls when a tick brings no events: after a machine crash the store is
 * at most one commit behind what readers saw, and never inconsistent. Returns 0, or
 * -1 when the flush failed (counted in sync_errors). */
int rec_sync(struct rec *r);

/* Appends an audit record: <who> (token name or user), <action> ("rules.put"), <detail>
 * (a JSON object, may be NULL). Returns 0 or -1. */
int rec_audit(struct rec *r, const char *who, const char *action, json_t *detail);

/* Deletes sessions closed before now - <max_age_s> (0: no age limit), oldest first,
 * and while the store uses more than <max_bytes> (0: no limit), at most <budget>
 * sessions per call (the writer is not stopped for long). Returns sessions removed. */
int rec_retain(struct rec *r, uint64_t max_age_s, uint64_t max_bytes, unsigned budget);

const struct rec_stats *rec_stats(const struct rec *r);

/* ---- readers: each returns 0 and a new JSON value in *out, or -1 (*out NULL) ---- */

struct rec_filter {
	uint64_t since_ns;            /* sessions opened at or after (0: any) */
	uint64_t until_ns;            /* ... and before (0: any) */
	const char *resource;         /* resource name, or NULL */
	const char *user;             /* database user or identity, or NULL */
	int verdict;                  /* sessions with at least one command of this action
	                               * (enum rule_action), or -1 */
	int live;                     /* 1: only sessions not closed yet */
	unsigned limit;               /* at most this many (0: 100) */
	uint64_t before_sid;          /* paging: sessions with a smaller id (0: from newest) */
};

/* Sessions, newest first: [ {id, opened, closed, resource, client, server, user,
 * database, app, commands, blocked, masked, close_reason}, ... ]. */
int rec_sessions(struct rec *r, const struct rec_filter *f, json_t **out);
/* One session: the object above plus "events": count and "chain": head hash. */
int rec_session(struct rec *r, uint64_t sid, json_t **out);
/* Events of a session from sequence <from>, at most <limit>: [ {seq, ts, type, ...} ].
 * -1 with *out NULL if the session does not exist. */
int rec_events(struct rec *r, uint64_t sid, uint32_t from, uint32_t limit, json_t **out);
/* Verifies the hash chain of session <sid>, or of every session when <sid> is 0:
 * {"sessions": N, "ok": N, "failed": [ {"id":..., "seq": first bad event, "why": ...} ]}.
 * Returns 0 if all verify, 1 if any failed, -1 on error. */
int rec_verify(struct rec *r, uint64_t sid, json_t **out);
/* Audit records, newest first, at most <limit>. */
int rec_audit_list(struct rec *r, unsigned limit, json_t **out);

/* Session ids as text: 16 hex digits. */
void rec_sid_str(uint64_t sid, char out[17]);
int rec_sid_parse(const char *s, uint64_t *sid);

#endif
