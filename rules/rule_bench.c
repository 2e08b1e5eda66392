/* rule_bench.c - field-masking throughput on generated PostgreSQL DataRow bytes: the
 * engine (rule_mask_fields) against the bare Hyperscan scans it is built from.
 *
 *   rule_bench [PACK.conf] [MBYTES]      (default rules/packs/pii.conf, 8 MB)
 *
 * Two data sets: "clean" rows (ids, names, cities, amounts, timestamps, statuses: no
 * PII) and "pii" rows (each with an e-mail address, a valid card number and an SSN).
 * Figures are MB/s of result bytes (DataRow headers and length words included) per
 * second of the thread's CPU time (so that other load on the machine counts less);
 * each is the best of several rounds. Not a test: numbers vary by machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tg_log.h"
#include "rules/rule.h"
#include "rules/rule_int.h"

#define BENCH_ROUNDS 7

/* A generated result: DataRow messages and the fields inside them. */
struct bench_data {
	uint8_t *buf;
	uint32_t len;
	struct rule_field *f;
	unsigned n;
	uint8_t *join;               /* the fields joined with '\n' (what the engine scans) */
	uint32_t jlen;
};

/* Thread CPU time: on a shared machine, time spent waiting for the CPU is not ours. */
static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t bench_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void bench_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Builds about <target> bytes of DataRows; <pii>: every row carries PII. */
static int bench_gen(struct bench_data *d, uint32_t target, int pii)
{
	static const char *const names[] = { "Alice Martin", "Bob Chen", "Carla Rossi",
		"Dmitri Ivanov", "Eve Dubois", "Farid Haddad", "Grace Okafor", "Hiro Tanaka" };
	static const char *const cities[] = { "Lyon", "Osaka", "Porto Alegre", "Nairobi",
		"Toronto", "Wroclaw", "Austin", "Melbourne" };
	static const char *const status[] = { "shipped", "pending", "cancelled", "delivered" };
	static const char *const cards[] = { "4111 1111 1111 1111", "5500-0000-0000-0004",
		"378282246310005", "6011000990139424" };
	uint32_t seed = 12345, cap = target + 4096, fcap = target / 4;
	char v[8][96];

	d->buf = malloc(cap);
	d->f = calloc(fcap, sizeof(*d->f));
	d->join = malloc(cap);
	if (d->buf == NULL || d->f == NULL || d->join == NULL)
		return -1;
	d->len = d->n = d->jlen = 0;
	while (d->len < target) {
		uint32_t r = bench_rand(&seed), start = d->len, nf;

		snprintf(v[0], sizeof(v[0]), "%u", 100000 + r % 900000);
		snprintf(v[1], sizeof(v[1]), "%s", names[r % 8]);
		snprintf(v[2], sizeof(v[2]), "%s", cities[(r >> 3) % 8]);
		snprintf(v[3], sizeof(v[3]), "%u.%02u", r % 5000, (r >> 7) % 100);
		snprintf(v[4], sizeof(v[4]), "2024-%02u-%02u 1%u:%02u:%02u+00", 1 + r % 12,
			 1 + (r >> 4) % 28, (r >> 9) % 10, (r >> 11) % 60, (r >> 13) % 60);
		snprintf(v[5], sizeof(v[5]), "%s", status[(r >> 5) % 4]);
		if (pii) {
			snprintf(v[6], sizeof(v[6]), "%s.%u@example.com", cities[r % 8], r % 1000);
			snprintf(v[7], sizeof(v[7]), "card %s ssn 123-45-%04u", cards[(r >> 2) % 4],
				 1 + r % 9998);
		} else {
			snprintf(v[6], sizeof(v[6]), "order %u of %u", r % 10, 10 + r % 7);
			snprintf(v[7], sizeof(v[7]), "leave at door");
		}
		nf = 8;
		if (d->len + 7 + nf * (4 + 96) > cap || d->n + nf > fcap)
			break;
		d->buf[d->len] = 'D';
		d->len += 7;            /* type, length (filled below), field count */
		d->buf[start + 5] = 0;
		d->buf[start + 6] = (uint8_t)nf;
		for (unsigned i = 0; i < nf; i++) {
			uint32_t l = (uint32_t)strlen(v[i]);

			bench_put32(d->buf + d->len, l);
			d->len += 4;
			memcpy(d->buf + d->len, v[i], l);
			d->f[d->n++] = (struct rule_field){ .off = d->len, .len = l, .col_rule = -1 };
			memcpy(d->join + d->jlen, v[i], l);
			d->jlen += l;
			d->join[d->jlen++] = '\n';
			d->len += l;
		}
		bench_put32(d->buf + start + 1, d->len - start - 1);
	}
	return 0;
}

static int bench_nop(unsigned int id, unsigned long long from, unsigned long long to,
		     unsigned int flags, void *ctx)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

/* Best-of-rounds MB/s of hs_scan(<db>) over <p>/<n>, in 64 KiB slices
 * (the engine's join buffer size) so that the per-call cost is counted as the engine
 * pays it. */
static double bench_scan(const hs_database_t *db, hs_scratch_t *hs, const uint8_t *p,
			 uint32_t n, unsigned long *hits)
{
	double best = 0;

	for (int round = 0; round < BENCH_ROUNDS; round++) {
		double t0 = bench_now(), dt;

		*hits = 0;
		for (uint32_t off = 0; off < n; off += RULE_JOIN_CAP) {
			uint32_t l = n - off < RULE_JOIN_CAP ? n - off : RULE_JOIN_CAP;

			hs_scan(db, (const char *)p + off, l, 0, hs, bench_nop, hits);
		}
		dt = bench_now() - t0;
		if (n / dt / 1e6 > best)
			best = n / dt / 1e6;
	}
	return best;
}

/* Best-of-rounds MB/s of the engine over <d> (the buffer is restored before each
 * round: masking changes it); also reports the restore copy alone. */
static double bench_engine(const struct rule_set *rs, struct rule_scratch *s,
			   const struct bench_data *d, uint8_t *work, double *copy_mbs,
			   struct rule_mask_stats *st)
{
	double best = 0, cbest = 0;

	for (int round = 0; round < BENCH_ROUNDS; round++) {
		double t0 = bench_now(), t1, t2;

		memcpy(work, d->buf, d->len);
		t1 = bench_now();
		rule_mask_fields(rs, s, DP_PROTO_PG, 0, work, d->len, d->f, d->n, st);
		t2 = bench_now();
		if (d->len / (t2 - t1) / 1e6 > best)
			best = d->len / (t2 - t1) / 1e6;
		if (d->len / (t1 - t0) / 1e6 > cbest)
			cbest = d->len / (t1 - t0) / 1e6;
	}
	*copy_mbs = cbest;
	return best;
}

/* The alternative the engine does not take: every field rule in one database with
 * start of match, scanned once over all the bytes. */
static hs_database_t *bench_som_all(const struct rule_set *rs)
{
	const char *re[256];
	unsigned flags[256], ids[256], n = 0;
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];

		for (unsigned k = 0; r->enabled && r->target == RULE_T_FIELD && k < r->n_pats && n < 256; k++) {
			re[n] = r->pats[k].re;
			flags[n] = HS_FLAG_DOTALL | HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST |
				   (r->nocase ? HS_FLAG_CASELESS : 0);
			ids[n++] = i;
		}
	}
	if (hs_compile_multi(re, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
		fprintf(stderr, "som-all: %s\n", ce ? ce->message : "?");
		hs_free_compile_error(ce);
		return NULL;
	}
	return db;
}

int main(int argc, char **argv)
{
	const char *pack = argc > 1 ? argv[1] : "rules/packs/pii.conf";
	uint32_t mb = argc > 2 ? (uint32_t)atoi(argv[2]) : 8;
	struct rule_scratch *s = NULL;
	struct rule_set *rs;
	hs_database_t *som_all = NULL;
	char err[1024];
	double t0;

	tg_log_set_level(TG_LOG_WARN);
	t0 = bench_now();
	if (rule_set_load(&pack, 1, NULL, NULL, &rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("pack %s: %u rules, compiled in %.1f ms\n", pack, rule_set_count(rs),
	       (bench_now() - t0) * 1e3);
	if (rule_scratch_alloc(rs, &s) < 0 || rs->db[DP_PROTO_PG][RULE_DB_FIELD] == NULL ||
	    (som_all = bench_som_all(rs)) == NULL || hs_alloc_scratch(som_all, &s->hs) != HS_SUCCESS) {
		fprintf(stderr, "no field rules for postgresql in %s\n", pack);
		return 1;
	}
	for (int pii = 0; pii <= 1; pii++) {
		struct bench_data d;
		struct rule_mask_stats st;
		unsigned long hits;
		uint8_t *work;
		double eng, copy, pre, som, raw_pre, raw_som;

		if (bench_gen(&d, (mb ? mb : 1) << 20, pii) < 0 || (work = malloc(d.len)) == NULL)
			return 1;
		eng = bench_engine(rs, s, &d, work, &copy, &st);
		pre = bench_scan(rs->db[DP_PROTO_PG][RULE_DB_FIELD], s->hs, d.join, d.jlen, &hits);
		som = bench_scan(som_all, s->hs, d.join, d.jlen, &hits);
		raw_pre = bench_scan(rs->db[DP_PROTO_PG][RULE_DB_FIELD], s->hs, d.buf, d.len, &hits);
		raw_som = bench_scan(som_all, s->hs, d.buf, d.len, &hits);
		/* the scans above see the fields' bytes only (jlen); convert to result bytes */
		pre *= (double)d.len / d.jlen;
		som *= (double)d.len / d.jlen;
		printf("\n%s rows: %.1f MB, %u fields (%.1f bytes/field), %u fields masked, "
		       "%u matches, %u rejected\n", pii ? "pii" : "clean", d.len / 1e6, d.n,
		       (double)d.jlen / d.n - 1, st.fields_masked, st.matches, st.rejected);
		printf("  engine: rule_mask_fields                     %8.0f MB/s\n", eng);
		printf("  hs_scan, no SOM, joined fields, all rules    %8.0f MB/s\n", pre);
		printf("  hs_scan, SOM, joined fields (one-pass SOM)   %8.0f MB/s\n", som);
		printf("  hs_scan, no SOM, raw DataRow bytes           %8.0f MB/s\n", raw_pre);
		printf("  hs_scan, SOM, raw DataRow bytes              %8.0f MB/s\n", raw_som);
		printf("  memcpy of the result                         %8.0f MB/s\n", copy);
		free(work);
		free(d.buf);
		free(d.f);
		free(d.join);
	}
	hs_free_database(som_all);
	rule_scratch_free(s);
	rule_set_free(rs);
	return 0;
}
