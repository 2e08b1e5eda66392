/* rec_bench.c - the session recorder's sustained write rate on one core (DESIGN.md §5, §10).
 *
 * A deterministic stream of realistic PostgreSQL session events (many sessions open at
 * once; each runs command + result pairs, then closes and a new one opens) is written
 * with rec_write() in batches, one LMDB transaction each, as the slow path does. For
 * every batch size it reports events/s over the time spent in rec_write() and the
 * percentiles of the batch durations; and, over the very same events and batches, two
 * ceilings: the SHA-256 chain alone, and plain LMDB puts of the same keys and value sizes
 * (no chain, no session records). The ratios survive a noisy machine; the absolute
 * figure depends on the file system (tmpfs: the CPU cost; a disk: one sync per batch).
 *
 *   rec_bench [-d DIR] [-s SESSIONS] [-b BATCH[,BATCH...]] [-n EVENTS] [-t SECONDS]
 *             [-m MAP_MB] [-j FILE] [-k]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include "common/tg_clock.h"
#include "slowpath/recorder.h"
#include "rules/rule-t.h"
#include "dataplane/dp_config-t.h"

#define BENCH_MAX_BATCHES 8           /* batch sizes per run */
#define BENCH_T0 1700000000000000000ULL

struct bench_opts {
	const char *dir;              /* parent of the stores (a fresh one per run) */
	unsigned sessions;            /* sessions open at once */
	unsigned batch[BENCH_MAX_BATCHES];
	unsigned n_batch;
	uint64_t events;              /* events per run, at most */
	double seconds;               /* ... or this long in rec_write, at most */
	uint64_t map_mb;
	const char *json;
	int keep;
};

/* ---- the event stream ---- */

struct gen_sess {
	uint64_t sid;
	uint32_t seq;                 /* next sequence number (for the LMDB ceiling) */
	uint32_t cmds_left;           /* commands before it closes */
	uint8_t  phase;               /* 0: open next, 1: auth next, 2: running */
	uint8_t  pending_result;      /* the command's result comes next */
	uint8_t  last_cmd;            /* template index of that command */
};

struct gen {
	struct gen_sess *s;
	unsigned n;
	uint64_t next_id;
	uint64_t ts;
	uint64_t rng;
};

static const struct {
	const char *text;
	uint8_t action;
	const char *rule;
	uint64_t rows;
	uint32_t masked;
} gen_cmds[] = {
	{ "SELECT id, name, email, created_at FROM customers WHERE id = $1", RULE_MASK,
	  "pii.email", 1, 1 },
	{ "SELECT o.id, o.total, o.status FROM orders o WHERE o.customer_id = $1 ORDER BY "
	  "o.created_at DESC LIMIT 20", RULE_ALLOW, "", 20, 0 },
	{ "UPDATE orders SET status = 'shipped', shipped_at = now() WHERE id = 48213",
	  RULE_ALLOW, "", 1, 0 },
	{ "INSERT INTO audit_log (ts, actor, action, detail) VALUES (now(), 'svc-billing', "
	  "'charge', '{\"amount\": 1999}')", RULE_ALLOW, "", 1, 0 },
	{ "BEGIN", RULE_ALLOW, "", 0, 0 },
	{ "COMMIT", RULE_ALLOW, "", 0, 0 },
	{ "SELECT date_trunc('day', created_at) AS day, count(*), sum(total) FROM orders WHERE "
	  "created_at >= now() - interval '30 days' GROUP BY 1 ORDER BY 1", RULE_ALERT,
	  "export.aggregate", 30, 0 },
	{ "SELECT card_number, expiry FROM payment_methods WHERE customer_id = $1", RULE_MASK,
	  "pii.card", 2, 2 },
	{ "DELETE FROM sessions WHERE expires_at < now()", RULE_ALLOW, "", 153, 0 },
	{ "DROP TABLE customers", RULE_BLOCK, "sql.drop-table", 0, 0 },
};
#define GEN_N_CMDS (sizeof(gen_cmds) / sizeof(gen_cmds[0]))

static uint64_t gen_rand(struct gen *g)
{
	/* xorshift64*: cheap and deterministic */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ULL;
}

static void gen_new_session(struct gen *g, struct gen_sess *s, uint16_t boot)
{
	s->sid = (uint64_t)boot << 48 | ++g->next_id;
	s->seq = 0;
	s->cmds_left = 20 + (uint32_t)(gen_rand(g) % 180);
	s->phase = 0;
	s->pending_result = 0;
}

static int gen_init(struct gen *g, unsigned n, uint16_t boot)
{
	memset(g, 0, sizeof(*g));
	g->s = calloc(n, sizeof(*g->s));
	if (g->s == NULL)
		return -1;
	g->n = n;
	g->ts = BENCH_T0;
	g->rng = 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < n; i++)
		gen_new_session(g, &g->s[i], boot);
	return 0;
}

/* The next event of a random session; *<seq> gets its sequence number. */
static void gen_next(struct gen *g, uint16_t boot, struct tg_event *e, uint32_t *seq)
{
	struct gen_sess *s = &g->s[gen_rand(g) % g->n];
	unsigned c;

	memset(e, 0, offsetof(struct tg_event, u) + sizeof(e->u.open));
	e->proto = DP_PROTO_PG;
	e->worker = (uint8_t)(s->sid % 4);
	e->sid = s->sid;
	e->ts_ns = g->ts += 1700;
	*seq = s->seq++;
	if (s->phase == 0) {
		e->type = EV_SESSION_OPEN;
		e->u.open.ip_ver = 4;
		e->u.open.client[0] = htonl(0xc6120000u | (uint32_t)(s->sid & 0xffff));
		e->u.open.server[0] = htonl(0xc6120002u);
		e->u.open.cport = (uint16_t)(1024 + s->sid % 60000);
		e->u.open.sport = 5432;
		s->phase = 1;
	} else if (s->phase == 1) {
		e->type = EV_AUTH;
		memset(&e->u.auth, 0, sizeof(e->u.auth));
		snprintf(e->u.auth.user, sizeof(e->u.auth.user), "svc-%u", (unsigned)(s->sid % 50));
		snprintf(e->u.auth.database, sizeof(e->u.auth.database), "orders");
		snprintf(e->u.auth.app, sizeof(e->u.auth.app), "pgx");
		s->phase = 2;
	} else if (s->pending_result) {
		c = s->last_cmd;
		e->type = EV_RESULT;
		memset(&e->u.result, 0, sizeof(e->u.result));
		e->u.result.rows = gen_cmds[c].rows;
		e->u.result.bytes = gen_cmds[c].rows * 180 + 20;
		e->u.result.masked = gen_cmds[c].masked * (uint32_t)gen_cmds[c].rows;
		e->u.result.duration_us = 150 + (uint32_t)(gen_rand(g) % 2000);
		snprintf(e->u.result.tag, sizeof(e->u.result.tag), "SELECT %" PRIu64,
			 gen_cmds[c].rows);
		s->pending_result = 0;
		if (--s->cmds_left == 0) {
			/* its close is the next event of this slot, then a new session */
			s->phase = 3;
		}
	} else if (s->phase == 3) {
		e->type = EV_SESSION_CLOSE;
		memset(&e->u.close, 0, sizeof(e->u.close));
		e->u.close.reason = EV_CLOSE_FIN;
		e->u.close.bytes_c2s = 12000;
		e->u.close.bytes_s2c = 480000;
		gen_new_session(g, s, boot);
	} else {
		/* mostly the common statements; the block rule fires rarely */
		c = (unsigned)(gen_rand(g) % 1000);
		c = c == 0 ? GEN_N_CMDS - 1 : c % (GEN_N_CMDS - 1);
		e->type = EV_COMMAND;
		e->u.cmd.action = gen_cmds[c].action;
		e->u.cmd.len = (uint32_t)strlen(gen_cmds[c].text);
		e->u.cmd.fp_hash = 0xcbf29ce484222325ULL ^ c;
		memset(e->u.cmd.rule, 0, sizeof(e->u.cmd.rule));
		snprintf(e->u.cmd.rule, sizeof(e->u.cmd.rule), "%s", gen_cmds[c].rule);
		snprintf(e->u.cmd.text, sizeof(e->u.cmd.text), "%s", gen_cmds[c].text);
		s->pending_result = 1;
		s->last_cmd = (uint8_t)c;
	}
}

/* Bytes the recorder keeps of <e> (as slowpath/rec_int.h: the used part). */
static size_t ev_used(const struct tg_event *e)
{
	switch (e->type) {
	case EV_COMMAND:
		return offsetof(struct tg_event, u.cmd.text) + strlen(e->u.cmd.text);
	case EV_AUTH:
		return offsetof(struct tg_event, u) + sizeof(e->u.auth);
	case EV_RESULT:
		return offsetof(struct tg_event, u) + sizeof(e->u.result);
	case EV_SESSION_CLOSE:
		return offsetof(struct tg_event, u) + sizeof(e->u.close);
	default:
		return offsetof(struct tg_event, u) + sizeof(e->u.open);
	}
}

/* ---- timing ---- */

/* CPU time of this thread: what the code under test cost, whatever else the machine
 * runs (wall time on a shared 2-core machine mostly measures the neighbours). */
static uint64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct run_res {
	uint64_t events, batches;
	uint64_t busy_ns;             /* wall time inside the code under test */
	uint64_t cpu_ns;              /* CPU time of this thread inside it */
	uint64_t p50, p90, p99, p999, max; /* batch durations, ns */
	uint64_t lost;
};

static void run_percentiles(struct run_res *res, uint64_t *lat, uint64_t n)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	res->p50 = lat[n * 50 / 100];
	res->p90 = lat[n * 90 / 100];
	res->p99 = lat[n * 99 / 100];
	res->p999 = lat[n * 999 / 1000];
	res->max = lat[n - 1];
}

static void rm_store(const char *dir)
{
	char p[600];

	if (snprintf(p, sizeof(p), "%s/data.mdb", dir) < (int)sizeof(p))
		unlink(p);
	if (snprintf(p, sizeof(p), "%s/lock.mdb", dir) < (int)sizeof(p))
		unlink(p);
	rmdir(dir);
}

/* ---- the phases ---- */

static int run_recorder(const struct bench_opts *o, unsigned batch, struct run_res *res)
{
	static const char *const names[] = { "orders-db" };
	uint64_t max_batches = o->events / batch + 1, *lat;
	struct tg_event *ev = calloc(batch, sizeof(*ev));
	uint32_t *seq = calloc(batch, sizeof(*seq));
	char dir[512], err[256];
	struct rec *r;
	struct gen g;

	snprintf(dir, sizeof(dir), "%s/rec-%u", o->dir, batch);
	lat = calloc(max_batches, sizeof(*lat));
	if (ev == NULL || seq == NULL || lat == NULL)
		return -1;
	if (rec_open(dir, o->map_mb << 20, 0, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "rec_bench: %s\n", err);
		return -1;
	}
	rec_set_resources(r, names, 1);
	if (gen_init(&g, o->sessions, rec_boot(r)) < 0)
		return -1;
	memset(res, 0, sizeof(*res));
	while (res->events < o->events && res->busy_ns < o->seconds * 1e9) {
		uint64_t t, c;

		for (unsigned i = 0; i < batch; i++)
			gen_next(&g, rec_boot(r), &ev[i], &seq[i]);
		c = cpu_ns();
		t = tg_mono_ns();
		if (rec_write(r, ev, batch) != (int)batch) {
			fprintf(stderr, "rec_bench: rec_write failed (map too small? -m)\n");
			break;
		}
		t = tg_mono_ns() - t;
		res->cpu_ns += cpu_ns() - c;
		lat[res->batches++] = t;
		res->busy_ns += t;
		res->events += batch;
	}
	res->lost = rec_stats(r)->events_lost;
	if (res->batches)
		run_percentiles(res, lat, res->batches);
	if (!o->keep) {
		json_t *v = NULL;

		/* not timed: the chains of what was written must verify */
		if (rec_verify(r, 0, &v) != 0)
			fprintf(stderr, "rec_bench: verify FAILED: %zu of %lld sessions\n",
				json_array_size(json_object_get(v, "failed")),
				(long long)json_integer_value(json_object_get(v, "sessions")));
		json_decref(v);
	}
	rec_close(r);
	if (!o->keep)
		rm_store(dir);
	free(g.s);
	free(ev);
	free(seq);
	free(lat);
	return res->batches ? 0 : -1;
}

/* The same events and batches as plain LMDB puts: key (sid, seq), a value of the size
 * the recorder stores, one transaction per batch, nothing else. */
static int run_lmdb(const struct bench_opts *o, unsigned batch, uint64_t events,
		    struct run_res *res)
{
	struct tg_event *ev = calloc(batch, sizeof(*ev));
	uint32_t *seq = calloc(batch, sizeof(*seq));
	uint8_t val[4 + sizeof(struct tg_event) + 32];
	uint64_t *lat = calloc(events / batch + 1, sizeof(*lat));
	char dir[512];
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	struct gen g;
	int rc;

	snprintf(dir, sizeof(dir), "%s/lmdb-%u", o->dir, batch);
	if (ev == NULL || seq == NULL || lat == NULL || mkdir(dir, 0700) < 0)
		return -1;
	mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 4);
	mdb_env_set_mapsize(env, o->map_mb << 20);
	if ((rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		fprintf(stderr, "rec_bench: lmdb: %s\n", mdb_strerror(rc));
		return -1;
	}
	memset(val, 0x5a, sizeof(val));
	gen_init(&g, o->sessions, 1);
	memset(res, 0, sizeof(*res));
	while (res->events < events) {
		uint64_t t, c;

		for (unsigned i = 0; i < batch; i++)
			gen_next(&g, 1, &ev[i], &seq[i]);
		c = cpu_ns();
		t = tg_mono_ns();
		rc = mdb_txn_begin(env, NULL, 0, &txn);
		for (unsigned i = 0; rc == 0 && i < batch; i++) {
			uint8_t key[12];
			MDB_val k = { sizeof(key), key }, v = { 4 + ev_used(&ev[i]) + 32, val };

			for (int b = 0; b < 8; b++)
				key[b] = (uint8_t)(ev[i].sid >> (56 - 8 * b));
			for (int b = 0; b < 4; b++)
				key[8 + b] = (uint8_t)(seq[i] >> (24 - 8 * b));
			rc = mdb_put(txn, dbi, &k, &v, 0);
		}
		rc = rc ? rc : mdb_txn_commit(txn);
		if (rc != 0) {
			fprintf(stderr, "rec_bench: lmdb: %s\n", mdb_strerror(rc));
			break;
		}
		t = tg_mono_ns() - t;
		res->cpu_ns += cpu_ns() - c;
		lat[res->batches++] = t;
		res->busy_ns += t;
		res->events += batch;
	}
	if (res->batches)
		run_percentiles(res, lat, res->batches);
	mdb_env_close(env);
	rm_store(dir);
	free(g.s);
	free(ev);
	free(seq);
	free(lat);
	return res->batches ? 0 : -1;
}

/* The chain alone: SHA-256(prev || event bytes) for the same events. */
static double run_sha(const struct bench_opts *o, uint64_t events)
{
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t h[32] = { 0 };
	uint64_t busy = 0;
	struct tg_event ev[256];
	uint32_t seq[256];
	struct gen g;

	gen_init(&g, o->sessions, 1);
	for (uint64_t done = 0; done < events; done += 256) {
		uint64_t t;

		for (unsigned i = 0; i < 256; i++)
			gen_next(&g, 1, &ev[i], &seq[i]);
		t = cpu_ns();
		for (unsigned i = 0; i < 256; i++) {
			EVP_DigestInit_ex2(ctx, md, NULL);
			EVP_DigestUpdate(ctx, h, sizeof(h));
			EVP_DigestUpdate(ctx, &ev[i], ev_used(&ev[i]));
			EVP_DigestFinal_ex(ctx, h, NULL);
		}
		busy += cpu_ns() - t;
	}
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	free(g.s);
	return busy ? (double)events / ((double)busy / 1e9) : 0;
}

/* ---- main ---- */

static const char *fs_name(const char *dir)
{
	struct statfs st;

	if (statfs(dir, &st) < 0)
		return "?";
	switch ((unsigned long)st.f_type) {
	case 0x01021994: return "tmpfs";
	case 0xef53:     return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683e: return "btrfs";
	case 0x794c7630: return "overlayfs";
	default:         return "other";
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: rec_bench [-d DIR] [-s SESSIONS] [-b BATCH[,BATCH...]] "
		"[-n EVENTS] [-t SECONDS] [-m MAP_MB] [-j FILE] [-k]\n"
		"  -d  where the stores go (default /tmp; a tmpfs such as /dev/shm measures\n"
		"      the CPU cost, a disk adds one sync per batch)\n"
		"  -s  sessions open at once (1000)   -b  batch sizes (256,1024)\n"
		"  -n  events per run at most (2000000)  -t  seconds in rec_write at most (10)\n"
		"  -m  map size in MiB (4096)   -j  write the results as JSON too   -k  keep\n");
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	int c;

	*o = (struct bench_opts){ .dir = "/tmp", .sessions = 1000, .events = 2000000,
				  .seconds = 10, .map_mb = 4096, .batch = { 256, 1024 },
				  .n_batch = 2 };
	while ((c = getopt(argc, argv, "d:s:b:n:t:m:j:kh")) != -1) {
		char *p, *end;

		switch (c) {
		case 'd': o->dir = optarg; break;
		case 's': o->sessions = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': o->events = strtoull(optarg, NULL, 0); break;
		case 't': o->seconds = strtod(optarg, NULL); break;
		case 'm': o->map_mb = strtoull(optarg, NULL, 0); break;
		case 'j': o->json = optarg; break;
		case 'k': o->keep = 1; break;
		case 'b':
			o->n_batch = 0;
			for (p = optarg; *p && o->n_batch < BENCH_MAX_BATCHES; p = end) {
				o->batch[o->n_batch] = (unsigned)strtoul(p, &end, 0);
				if (end == p || o->batch[o->n_batch] == 0)
					return -1;
				o->n_batch++;
				if (*end == ',')
					end++;
			}
			break;
		default:
			return -1;
		}
	}
	return o->sessions && o->n_batch && o->events ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	char tmpl[512];
	json_t *jr = json_array();
	double sha;

	if (parse_opts(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	snprintf(tmpl, sizeof(tmpl), "%s/rec_bench-XXXXXX", o.dir);
	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "rec_bench: %s: %s\n", tmpl, strerror(errno));
		return 1;
	}
	o.dir = tmpl;
	printf("rec_bench: %s (%s), %u sessions open, PostgreSQL mix (command + result pairs, "
	       "sessions of 20-200 commands), one transaction per batch\n",
	       o.dir, fs_name(o.dir), o.sessions);
	sha = run_sha(&o, 500000);
	printf("%-6s %9s %11s %11s %8s %8s %8s %9s %8s %12s %6s\n", "batch", "events",
	       "ev/s(wall)", "ev/s(cpu)", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us",
	       "lmdb(cpu)", "ratio");
	for (unsigned i = 0; i < o.n_batch; i++) {
		struct run_res rr, lr;
		double rate, crate, lrate;

		if (run_recorder(&o, o.batch[i], &rr) < 0)
			return 1;
		if (run_lmdb(&o, o.batch[i], rr.events, &lr) < 0)
			return 1;
		rate = rr.events / (rr.busy_ns / 1e9);
		crate = rr.events / (rr.cpu_ns / 1e9);
		lrate = lr.events / (lr.cpu_ns / 1e9);
		printf("%-6u %9" PRIu64 " %11.0f %11.0f %8.0f %8.0f %8.0f %9.0f %8.0f %12.0f %5.0f%%\n",
		       o.batch[i], rr.events, rate, crate, rr.p50 / 1e3, rr.p90 / 1e3, rr.p99 / 1e3,
		       rr.p999 / 1e3, rr.max / 1e3, lrate, 100.0 * crate / lrate);
		json_array_append_new(jr, json_pack(
			"{s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}",
			"batch", (int)o.batch[i], "events", (json_int_t)rr.events,
			"seconds", rr.busy_ns / 1e9, "events_per_s", rate,
			"events_per_cpu_s", crate,
			"p50_us", rr.p50 / 1e3, "p90_us", rr.p90 / 1e3, "p99_us", rr.p99 / 1e3,
			"p999_us", rr.p999 / 1e3, "max_us", rr.max / 1e3,
			"lmdb_only_events_per_cpu_s", lrate, "events_lost", (json_int_t)rr.lost));
	}
	printf("ev/s(wall): events / time in rec_write; ev/s(cpu): events / CPU time of the "
	       "writer thread in rec_write;\nlmdb(cpu): plain LMDB puts of the same keys and "
	       "value sizes per CPU second; ratio: recorder / lmdb (cpu).\n");
	printf("SHA-256 chain alone (same events): %.0f events per CPU second\n", sha);
	if (o.json) {
		json_t *doc = json_pack("{s:s, s:s, s:i, s:f, s:o}", "bench", "rec_bench",
					"fs", fs_name(o.dir), "sessions", (int)o.sessions,
					"sha256_events_per_s", sha, "runs", jr);

		if (doc == NULL || json_dump_file(doc, o.json, JSON_INDENT(2)) < 0)
			fprintf(stderr, "rec_bench: cannot write %s\n", o.json);
		json_decref(doc);
	} else {
		json_decref(jr);
	}
	if (!o.keep)
		rmdir(tmpl);
	return 0;
}
