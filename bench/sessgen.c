/* sessgen.c - PostgreSQL session traces for the engine bench (see sessgen.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_mbuf.h>
#include "bench/sessgen.h"
#include "dataplane/dp_pkt-t.h"
#include "tests/common/pktgen.h"

#define SG_TS_OPT_LEN   12            /* NOP NOP + timestamps option on every segment */
#define SG_WIN_SYN_C    64240         /* what Linux puts in a SYN (unscaled) */
#define SG_WIN_SYN_S    65160
#define SG_WIN_RAW      1024          /* later segments: 1024 << 7 = 128 KiB */
#define SG_WSCALE       7

/* ---- small helpers ---- */

struct sg_rng {
	uint64_t s;
};

/* xorshift64*: fast, good enough for traffic shapes, reproducible from the seed. */
static inline uint64_t rng_next(struct sg_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static inline uint32_t rng_below(struct sg_rng *r, uint32_t n)
{
	return n ? (uint32_t)((rng_next(r) >> 32) % n) : 0;
}

/* True with probability <pct> percent. */
static inline int rng_chance(struct sg_rng *r, double pct)
{
	return pct > 0 && (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0) * 100.0 < pct;
}

uint64_t sg_fnv(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A growable byte buffer. Every append checks for room: generation may run out of memory
 * with large parameters, and then fails cleanly. */
struct gbuf {
	uint8_t *p;
	uint64_t len, cap;
	int oom;                      /* an allocation failed; contents are incomplete */
};

static uint8_t *gbuf_room(struct gbuf *b, uint64_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n > b->cap) {
		uint64_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return NULL;
		}
		b->p = np;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

static void gbuf_put(struct gbuf *b, const void *src, uint64_t n)
{
	uint8_t *d = gbuf_room(b, n);
	if (d)
		memcpy(d, src, n);
}

/* ---- PostgreSQL messages ---- */

/* A run of messages with the stream offset where each one ends. */
struct msgbuf {
	struct gbuf b;
	uint32_t *ends;               /* offsets in b just after each message */
	uint32_t n_ends, cap_ends;
	int oom;
};

static void mb_reset(struct msgbuf *m)
{
	m->b.len = 0;
	m->n_ends = 0;
}

static void mb_u8(struct msgbuf *m, uint8_t v)
{
	gbuf_put(&m->b, &v, 1);
}

static void mb_u16(struct msgbuf *m, uint16_t v)
{
	uint16_t be = htons(v);
	gbuf_put(&m->b, &be, 2);
}

static void mb_u32(struct msgbuf *m, uint32_t v)
{
	uint32_t be = htonl(v);
	gbuf_put(&m->b, &be, 4);
}

static void mb_str(struct msgbuf *m, const char *s)
{
	gbuf_put(&m->b, s, strlen(s) + 1);
}

/* Starts a message of <type> (0: untyped, the startup packet). Returns its start. */
static uint32_t mb_begin(struct msgbuf *m, uint8_t type)
{
	uint32_t start = (uint32_t)m->b.len;

	if (type)
		mb_u8(m, type);
	mb_u32(m, 0);
	return start;
}

/* Ends the message begun at <start>: fills in its length, records where it ends. */
static void mb_end(struct msgbuf *m, uint32_t start, int typed)
{
	uint32_t lenpos = start + (typed ? 1 : 0);
	uint32_t be;

	if (m->b.oom)
		return;
	be = htonl((uint32_t)(m->b.len - lenpos));
	memcpy(m->b.p + lenpos, &be, 4);
	if (m->n_ends == m->cap_ends) {
		uint32_t cap = m->cap_ends ? 2 * m->cap_ends : 64;
		uint32_t *ne = realloc(m->ends, cap * sizeof(*ne));
		if (ne == NULL) {
			m->oom = 1;
			return;
		}
		m->ends = ne;
		m->cap_ends = cap;
	}
	m->ends[m->n_ends++] = (uint32_t)m->b.len;
}

/* A DataRow or RowDescription column value of <len> bytes (NULL when <v> is NULL). */
static void mb_col(struct msgbuf *m, const char *v)
{
	if (v == NULL) {
		mb_u32(m, UINT32_MAX); /* -1: SQL NULL */
		return;
	}
	mb_u32(m, (uint32_t)strlen(v));
	gbuf_put(&m->b, v, strlen(v));
}

static const char *const first_names[] = {
	"Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "James",
	"Mia", "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry", "Abigail",
	"Alexander", "Emily", "Daniel", "Ella", "Matthew", "Camila", "Samuel", "Luna", "David",
};
static const char *const last_names[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
	"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
	"Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
};
static const char *const words[] = {
	"delivery", "to", "the", "back", "door", "please", "call", "before", "arrival", "gift",
	"wrap", "invoice", "attached", "customer", "prefers", "email", "contact", "net", "30",
	"terms", "VIP", "account", "renewal", "due", "in", "March", "ask", "for", "manager",
};
static const char *const cities[] = {
	"Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview",
	"Salem", "Madison", "Georgetown",
};
static const char *const statuses[] = { "paid", "shipped", "delivered", "refunded", "pending" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A 16-digit card-like number, Luhn-valid nine times in ten, laid out plain, in groups
 * of four separated by spaces, or by dashes. */
static void card_number(struct sg_rng *r, char *out)
{
	static const char *const prefixes[] = { "4", "51", "55", "2223", "6011", "35" };
	const char *pre = prefixes[rng_below(r, NELEM(prefixes))];
	char d[17];
	unsigned n = (unsigned)strlen(pre), sum = 0, layout = rng_below(r, 3);

	memcpy(d, pre, n);
	for (; n < 15; n++)
		d[n] = (char)('0' + rng_below(r, 10));
	/* Luhn: double every second digit from the right, the check digit excluded */
	for (int i = 14, dbl = 1; i >= 0; i--, dbl = !dbl) {
		unsigned v = (unsigned)(d[i] - '0') * (dbl ? 2 : 1);
		sum += v > 9 ? v - 9 : v;
	}
	d[15] = (char)('0' + (10 - sum % 10) % 10);
	if (rng_below(r, 10) == 0)
		d[15] = (char)('0' + (d[15] - '0' + 1) % 10);
	d[16] = 0;
	if (layout == 0) {
		memcpy(out, d, 17);
		return;
	}
	for (int g = 0, o = 0; g < 4; g++) {
		memcpy(out + o, d + 4 * g, 4);
		o += 4;
		out[o++] = g == 3 ? 0 : (layout == 1 ? ' ' : '-');
	}
}

/* Free text of about <target> bytes made of words. */
static void note_text(struct sg_rng *r, char *out, unsigned target)
{
	unsigned o = 0;

	while (o < target) {
		const char *w = words[rng_below(r, NELEM(words))];
		unsigned l = (unsigned)strlen(w);
		if (o + l + 1 >= target)
			break;
		if (o)
			out[o++] = ' ';
		memcpy(out + o, w, l);
		o += l;
	}
	out[o] = 0;
}

struct col_desc {
	const char *name;
	uint32_t type_oid;
	uint16_t typlen;
};

static void row_description(struct msgbuf *m, const struct col_desc *cols, unsigned n)
{
	uint32_t st = mb_begin(m, 'T');

	mb_u16(m, (uint16_t)n);
	for (unsigned i = 0; i < n; i++) {
		mb_str(m, cols[i].name);
		mb_u32(m, 16385);                 /* table oid */
		mb_u16(m, (uint16_t)(i + 1));     /* column number */
		mb_u32(m, cols[i].type_oid);
		mb_u16(m, cols[i].typlen);
		mb_u32(m, UINT32_MAX);            /* typmod -1 */
		mb_u16(m, 0);                     /* text format */
	}
	mb_end(m, st, 1);
}

static void command_complete(struct msgbuf *m, const char *tag)
{
	uint32_t st = mb_begin(m, 'C');
	mb_str(m, tag);
	mb_end(m, st, 1);
}

static void ready_for_query(struct msgbuf *m)
{
	uint32_t st = mb_begin(m, 'Z');
	mb_u8(m, 'I');
	mb_end(m, st, 1);
}

/* Query kinds of the standard mix, out of 100: what an OLTP application's sessions
 * send (pgbench's point selects and updates; an order history; a product page), with
 * customer lists (the PII-dense kind of the customers mix) and aggregates. */
#define SG_STD_POINT     35           /* SELECT abalance ... WHERE aid = N: one int4 */
#define SG_STD_UPDATE    15           /* UPDATE ... WHERE aid = N: no rows */
#define SG_STD_ORDERS    20           /* id int8, customer_id int4, status, total numeric,
				       * created_at timestamptz */
#define SG_STD_PRODUCTS  10           /* id int4, sku, name, description, price numeric */
#define SG_STD_CUSTOMERS 15           /* as the customers mix */
				      /* the other 5: count(*) */

static uint32_t make_customers_query(struct sg_rng *r, uint32_t mean_rows, uint32_t kind,
				     struct msgbuf *q, struct msgbuf *res);

/* One query of the standard mix and its result set (see make_customers_query). */
static uint32_t make_standard_query(struct sg_rng *r, uint32_t mean_rows, struct msgbuf *q,
				    struct msgbuf *res)
{
	static const struct col_desc point[] = { { "abalance", 23, 4 } };
	static const struct col_desc orders[] = {
		{ "id", 20, 8 }, { "customer_id", 23, 4 }, { "status", 25, 0xffff },
		{ "total", 1700, 0xffff }, { "created_at", 1184, 8 },
	};
	static const struct col_desc products[] = {
		{ "id", 23, 4 }, { "sku", 25, 0xffff }, { "name", 25, 0xffff },
		{ "description", 25, 0xffff }, { "price", 1700, 0xffff },
	};
	uint32_t kind = rng_below(r, 100), nrows, st, k;
	char sql[256], v[5][160], tag[32];

	if (kind >= SG_STD_POINT + SG_STD_UPDATE + SG_STD_ORDERS + SG_STD_PRODUCTS)
		return make_customers_query(r, mean_rows,
					    kind < 100 - 5 ? rng_below(r, 85) : 85 + rng_below(r, 15),
					    q, res);
	mb_reset(q);
	mb_reset(res);
	nrows = mean_rows > 1 ? 1 + rng_below(r, 2 * mean_rows - 1) : 1;
	if (kind < SG_STD_POINT) {
		snprintf(sql, sizeof(sql), "SELECT abalance FROM pgbench_accounts WHERE aid = %u;",
			 1 + rng_below(r, 1000000));
		nrows = 1;
	} else if (kind < SG_STD_POINT + SG_STD_UPDATE) {
		snprintf(sql, sizeof(sql),
			 "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %u;",
			 (int)rng_below(r, 10001) - 5000, 1 + rng_below(r, 1000000));
		nrows = 0;
	} else if (kind < SG_STD_POINT + SG_STD_UPDATE + SG_STD_ORDERS) {
		snprintf(sql, sizeof(sql),
			 "SELECT id, customer_id, status, total, created_at FROM orders "
			 "WHERE customer_id = %u ORDER BY created_at DESC LIMIT %u",
			 1 + rng_below(r, 100000), nrows);
	} else {
		snprintf(sql, sizeof(sql),
			 "SELECT id, sku, name, description, price FROM products WHERE category = %u LIMIT %u",
			 1 + rng_below(r, 200), nrows);
	}
	st = mb_begin(q, 'Q');
	mb_str(q, sql);
	mb_end(q, st, 1);
	if (nrows == 0) {
		command_complete(res, "UPDATE 1");
		ready_for_query(res);
		return 0;
	}
	unsigned ncols = kind < SG_STD_POINT ? 1 : 5;
	const struct col_desc *cd = kind < SG_STD_POINT ? point :
				    kind < SG_STD_POINT + SG_STD_UPDATE + SG_STD_ORDERS ? orders : products;
	row_description(res, cd, ncols);
	for (uint32_t i = 0; i < nrows; i++) {
		if (ncols == 1) {
			snprintf(v[0], sizeof(v[0]), "%d", (int)rng_below(r, 200001) - 100000);
		} else if (cd == orders) {
			snprintf(v[0], sizeof(v[0]), "%u", 1000000 + rng_below(r, 9000000));
			snprintf(v[1], sizeof(v[1]), "%u", 1 + rng_below(r, 100000));
			snprintf(v[2], sizeof(v[2]), "%s", statuses[rng_below(r, NELEM(statuses))]);
			snprintf(v[3], sizeof(v[3]), "%u.%02u", rng_below(r, 2000), rng_below(r, 100));
			snprintf(v[4], sizeof(v[4]), "2026-%02u-%02u %02u:%02u:%02u.%06u+00",
				 1 + rng_below(r, 12), 1 + rng_below(r, 28), rng_below(r, 24),
				 rng_below(r, 60), rng_below(r, 60), rng_below(r, 1000000));
		} else {
			snprintf(v[0], sizeof(v[0]), "%u", 1 + rng_below(r, 50000));
			snprintf(v[1], sizeof(v[1]), "SKU-%05u-%c%c", rng_below(r, 100000),
				 'A' + (int)rng_below(r, 26), 'A' + (int)rng_below(r, 26));
			snprintf(v[2], sizeof(v[2]), "%s %s", words[rng_below(r, NELEM(words))],
				 words[rng_below(r, NELEM(words))]);
			note_text(r, v[3], 40 + rng_below(r, 111));
			snprintf(v[4], sizeof(v[4]), "%u.%02u", rng_below(r, 500), rng_below(r, 100));
		}
		st = mb_begin(res, 'D');
		mb_u16(res, (uint16_t)ncols);
		for (k = 0; k < ncols; k++)
			mb_col(res, v[k]);
		mb_end(res, st, 1);
	}
	snprintf(tag, sizeof(tag), "SELECT %u", nrows);
	command_complete(res, tag);
	ready_for_query(res);
	return nrows;
}

/* One query of the customers mix and its result set, of kind <kind> (0..99: below 45
 * the five-column customer list, below 85 the three-column one, else a count). <q>
 * receives the Query message, <res> the answer. Returns the number of DataRows. */
static uint32_t make_customers_query(struct sg_rng *r, uint32_t mean_rows, uint32_t kind,
				     struct msgbuf *q, struct msgbuf *res)
{
	static const struct col_desc cust[] = {
		{ "id", 23, 4 }, { "name", 25, 0xffff }, { "email", 25, 0xffff },
		{ "card_number", 25, 0xffff }, { "note", 25, 0xffff },
	};
	static const struct col_desc cnt[] = { { "count", 20, 8 } };
	char sql[256], v[5][160], tag[32];
	uint32_t nrows, st;

	mb_reset(q);
	mb_reset(res);
	nrows = mean_rows > 1 ? 1 + rng_below(r, 2 * mean_rows - 1) : 1;
	if (kind < 45) {
		snprintf(sql, sizeof(sql),
			 "SELECT id, name, email, card_number, note FROM customers WHERE id > %u ORDER BY id LIMIT %u",
			 rng_below(r, 100000), nrows);
	} else if (kind < 85) {
		snprintf(sql, sizeof(sql),
			 "SELECT id, name, email FROM customers WHERE city = '%s' LIMIT %u",
			 cities[rng_below(r, NELEM(cities))], nrows);
	} else {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM orders WHERE status = '%s'",
			 statuses[rng_below(r, NELEM(statuses))]);
		nrows = 1;
	}
	st = mb_begin(q, 'Q');
	mb_str(q, sql);
	mb_end(q, st, 1);

	unsigned ncols = kind < 45 ? 5 : kind < 85 ? 3 : 1;
	row_description(res, kind < 85 ? cust : cnt, ncols);
	for (uint32_t i = 0; i < nrows; i++) {
		const char *fn = first_names[rng_below(r, NELEM(first_names))];
		const char *ln = last_names[rng_below(r, NELEM(last_names))];
		static const char *const domains[] = { "example.com", "example.org", "example.net" };
		char lf[32], ll[32];
		unsigned k;

		if (ncols == 1) {
			snprintf(v[0], sizeof(v[0]), "%u", rng_below(r, 100000));
		} else {
			snprintf(v[0], sizeof(v[0]), "%u", 1 + rng_below(r, 999999));
			snprintf(v[1], sizeof(v[1]), "%s %s", fn, ln);
			for (k = 0; fn[k] && k < sizeof(lf) - 1; k++)
				lf[k] = (char)(fn[k] | 0x20);
			lf[k] = 0;
			for (k = 0; ln[k] && k < sizeof(ll) - 1; k++)
				ll[k] = (char)(ln[k] | 0x20);
			ll[k] = 0;
			snprintf(v[2], sizeof(v[2]), "%s.%s%u@%s", lf, ll, rng_below(r, 1000),
				 domains[rng_below(r, NELEM(domains))]);
			card_number(r, v[3]);
			note_text(r, v[4], rng_below(r, 121));
		}
		st = mb_begin(res, 'D');
		mb_u16(res, (uint16_t)ncols);
		for (k = 0; k < ncols; k++)
			mb_col(res, (k == 3 && rng_below(r, 20) == 0) ? NULL : v[k]);
		mb_end(res, st, 1);
	}
	snprintf(tag, sizeof(tag), "SELECT %u", nrows);
	command_complete(res, tag);
	ready_for_query(res);
	return nrows;
}

/* ---- frames ---- */

struct gen {
	const struct sg_params *p;
	struct rte_mempool *pool;
	struct sg_rng rng;
	struct gbuf buf;              /* frames, in generation order (session by session) */
	struct sg_frame *frames;      /* generation order */
	uint32_t n_frames, cap_frames;
	uint32_t *sess_first;         /* first frame of each session */
	uint32_t seg_payload;         /* payload bytes per full data segment */
	uint32_t *ord;                /* scratch for s2c_send: delivery order of segments */
	uint8_t  *flags;              /* scratch: per segment bit 0 received, bit 1 swapped */
	uint32_t cap_segs;
	struct sg_stats *st;
	int fail;                     /* out of memory or mbufs */
};

/* One TCP connection being written. Side 0 is the client, side 1 the server. */
struct conv {
	struct pktgen_ep ep[2];
	uint32_t nxt[2];              /* next sequence number each side sends */
	uint32_t ack[2];              /* ACK value each side sends */
	uint32_t ts[2];               /* next TSval of each side */
	uint32_t ts_recent[2];        /* latest TSval each side received (its TSecr) */
	struct sg_stream_sum *sum;    /* the session's two stream sums */
};

static int frame_push(struct gen *g, uint64_t off, uint16_t len, uint8_t port)
{
	if (g->n_frames == g->cap_frames) {
		uint32_t cap = g->cap_frames ? 2 * g->cap_frames : 65536;
		struct sg_frame *nf = realloc(g->frames, (size_t)cap * sizeof(*nf));
		if (nf == NULL)
			return -1;
		g->frames = nf;
		g->cap_frames = cap;
	}
	g->frames[g->n_frames++] = (struct sg_frame){ .off = off, .len = len, .port = port };
	return 0;
}

/* Appends one segment sent by <side>; SYNs carry MSS, window scale and SACK-permitted. */
static void emit(struct gen *g, struct conv *c, int side, uint8_t flags, uint32_t seq,
		 const uint8_t *payload, uint32_t len)
{
	int syn = (flags & DP_TCP_SYN) != 0;
	struct pktgen_seg_spec sp = {
		.src = &c->ep[side], .dst = &c->ep[!side], .ip_ver = 4, .flags = flags,
		.seq = seq, .ack = (flags & DP_TCP_ACK) ? c->ack[side] : 0,
		.win = syn ? (side ? SG_WIN_SYN_S : SG_WIN_SYN_C) : SG_WIN_RAW,
		.mss = syn ? g->p->mss : 0, .wscale = syn ? SG_WSCALE : -1, .sack_perm = (uint8_t)syn,
		.ts = 1, .tsval = c->ts[side]++, .tsecr = (flags & DP_TCP_ACK) ? c->ts_recent[side] : 0,
		.payload = payload, .payload_len = (uint16_t)len,
	};
	struct rte_mbuf *m;
	uint64_t off;

	if (g->fail)
		return;
	c->ts_recent[!side] = sp.tsval;
	m = pktgen_build(g->pool, &sp);
	if (m == NULL) {
		g->fail = 1;
		return;
	}
	off = g->buf.len;
	gbuf_put(&g->buf, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_data_len(m));
	if (g->buf.oom || frame_push(g, off, rte_pktmbuf_data_len(m), (uint8_t)side) < 0)
		g->fail = 1;
	else
		g->st->wire_bytes += rte_pktmbuf_data_len(m);
	rte_pktmbuf_free(m);
}

/* The client sends the messages in <m> (one segment; FIN too when <fin>). */
static void c2s_send(struct gen *g, struct conv *c, const struct msgbuf *m, int fin)
{
	uint8_t fl = DP_TCP_ACK | DP_TCP_PSH | (fin ? DP_TCP_FIN : 0);

	if (m->b.len > g->seg_payload) {
		g->fail = 1; /* clients here send small messages only */
		return;
	}
	emit(g, c, 0, fl, c->nxt[0], m->b.p, (uint32_t)m->b.len);
	c->sum[0].hash = sg_fnv(c->sum[0].hash, m->b.p, m->b.len);
	c->sum[0].len += m->b.len;
	g->st->payload_bytes[0] += m->b.len;
	c->nxt[0] += (uint32_t)m->b.len + (fin ? 1 : 0);
	c->ack[1] = c->nxt[0];
}

static int seg_scratch(struct gen *g, uint32_t n)
{
	if (n <= g->cap_segs)
		return 0;
	uint32_t *o = realloc(g->ord, n * sizeof(*o));
	if (o == NULL)
		return -1;
	g->ord = o;
	uint8_t *f = realloc(g->flags, n);
	if (f == NULL)
		return -1;
	g->flags = f;
	g->cap_segs = n;
	return 0;
}

/* The server sends <m>: MSS segments, some swapped with the next, some sent twice; the
 * client acknowledges every second one up to the last message it has whole. */
static void s2c_send(struct gen *g, struct conv *c, const struct msgbuf *m)
{
	const uint32_t seg = g->seg_payload, len = (uint32_t)m->b.len;
	const uint32_t ns = (len + seg - 1) / seg, base = c->nxt[1];
	uint32_t contig = 0, e = 0, since_ack = 0;
	int64_t dup = -1;

	if (seg_scratch(g, ns) < 0) {
		g->fail = 1;
		return;
	}
	for (uint32_t i = 0; i < ns; i++) {
		g->ord[i] = i;
		g->flags[i] = 0;
	}
	for (uint32_t i = 0; i + 1 < ns; i++) {
		if (rng_chance(&g->rng, g->p->reorder_pct)) {
			g->ord[i] = i + 1;
			g->ord[i + 1] = i;
			g->flags[i] |= 2;
			g->flags[i + 1] |= 2;
			g->st->swaps++;
			i++;
		}
	}
	for (uint32_t j = 0; j < ns; j++) {
		uint32_t k = g->ord[j];
		uint32_t off = k * seg, n = len - off < seg ? len - off : seg;
		uint8_t fl = DP_TCP_ACK | (k == ns - 1 ? DP_TCP_PSH : 0);

		emit(g, c, 1, fl, base + off, m->b.p + off, n);
		g->st->data_segs_s2c++;
		if (dup >= 0) {
			uint32_t doff = (uint32_t)dup * seg, dn = len - doff < seg ? len - doff : seg;
			emit(g, c, 1, DP_TCP_ACK, base + doff, m->b.p + doff, dn);
			dup = -1;
		}
		g->flags[k] |= 1;
		while (contig < ns && (g->flags[contig] & 1))
			contig++;
		/* segments in a swap are left alone, so that each duplicate is a plain one */
		if (!(g->flags[k] & 2) && rng_chance(&g->rng, g->p->rtx_pct)) {
			g->st->rtx++;
			if (j == ns - 1)
				emit(g, c, 1, DP_TCP_ACK, base + off, m->b.p + off, n);
			else
				dup = k;
		}
		if (++since_ack == 2) {
			/* the receiver has whole messages up to the last end within the
			 * in-order bytes: that is what the appliance forwarded */
			uint32_t have = contig * seg < len ? contig * seg : len, upto = 0;
			while (e < m->n_ends && m->ends[e] <= have)
				e++;
			if (e)
				upto = m->ends[e - 1];
			c->ack[0] = base + upto;
			emit(g, c, 0, DP_TCP_ACK, c->nxt[0], NULL, 0);
			g->st->client_acks++;
			since_ack = 0;
		}
	}
	c->sum[1].hash = sg_fnv(c->sum[1].hash, m->b.p, len);
	c->sum[1].len += len;
	g->st->payload_bytes[1] += len;
	c->nxt[1] = base + len;
	c->ack[0] = c->nxt[1];
}

static void startup_messages(struct gen *g, struct conv *c, struct msgbuf *cm, struct msgbuf *sm)
{
	static const char *const params[][2] = {
		{ "application_name", "engine_bench" }, { "client_encoding", "UTF8" },
		{ "DateStyle", "ISO, MDY" }, { "default_transaction_read_only", "off" },
		{ "in_hot_standby", "off" }, { "integer_datetimes", "on" },
		{ "IntervalStyle", "postgres" }, { "is_superuser", "off" },
		{ "server_encoding", "UTF8" }, { "server_version", "15.8 (Debian 15.8-0+deb12u1)" },
		{ "session_authorization", "bench" }, { "standard_conforming_strings", "on" },
		{ "TimeZone", "Etc/UTC" },
	};
	char md5[40];
	uint32_t st;

	mb_reset(cm);
	st = mb_begin(cm, 0);
	mb_u32(cm, 196608); /* protocol 3.0 */
	mb_str(cm, "user");
	mb_str(cm, "bench");
	mb_str(cm, "database");
	mb_str(cm, "shop");
	mb_str(cm, "application_name");
	mb_str(cm, "engine_bench");
	mb_str(cm, "client_encoding");
	mb_str(cm, "UTF8");
	mb_u8(cm, 0);
	mb_end(cm, st, 0);
	c2s_send(g, c, cm, 0);

	mb_reset(sm);
	st = mb_begin(sm, 'R');
	mb_u32(sm, 5); /* AuthenticationMD5Password */
	mb_u32(sm, (uint32_t)rng_next(&g->rng));
	mb_end(sm, st, 1);
	s2c_send(g, c, sm);

	mb_reset(cm);
	snprintf(md5, sizeof(md5), "md5%016llx%016llx", (unsigned long long)rng_next(&g->rng),
		 (unsigned long long)rng_next(&g->rng));
	st = mb_begin(cm, 'p');
	mb_str(cm, md5);
	mb_end(cm, st, 1);
	c2s_send(g, c, cm, 0);

	mb_reset(sm);
	st = mb_begin(sm, 'R');
	mb_u32(sm, 0); /* AuthenticationOk */
	mb_end(sm, st, 1);
	for (unsigned i = 0; i < NELEM(params); i++) {
		st = mb_begin(sm, 'S');
		mb_str(sm, params[i][0]);
		mb_str(sm, params[i][1]);
		mb_end(sm, st, 1);
	}
	st = mb_begin(sm, 'K');
	mb_u32(sm, 10000 + rng_below(&g->rng, 50000));
	mb_u32(sm, (uint32_t)rng_next(&g->rng));
	mb_end(sm, st, 1);
	ready_for_query(sm);
	s2c_send(g, c, sm);
}

static void session(struct gen *g, uint32_t s, struct sg_stream_sum *sum, struct msgbuf *cm,
		    struct msgbuf *sm)
{
	struct conv c;
	static const uint8_t cmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	uint32_t st;

	memset(&c, 0, sizeof(c));
	memcpy(c.ep[0].mac, cmac, 6);
	memcpy(c.ep[1].mac, smac, 6);
	c.ep[0].ip4 = htonl(SG_CLIENT_IP0 + (s >> 14));
	c.ep[0].port = (uint16_t)(SG_CLIENT_PORT0 + (s & 0x3fff));
	c.ep[1].ip4 = htonl(SG_SERVER_IP);
	c.ep[1].port = SG_SERVER_PORT;
	c.nxt[0] = (uint32_t)rng_next(&g->rng);
	c.nxt[1] = (uint32_t)rng_next(&g->rng);
	c.ts[0] = (uint32_t)rng_next(&g->rng);
	c.ts[1] = (uint32_t)rng_next(&g->rng);
	c.sum = sum;
	sum[0] = sum[1] = (struct sg_stream_sum){ .len = 0, .hash = SG_FNV_INIT };

	emit(g, &c, 0, DP_TCP_SYN, c.nxt[0]++, NULL, 0);
	c.ack[1] = c.nxt[0];
	emit(g, &c, 1, DP_TCP_SYN | DP_TCP_ACK, c.nxt[1]++, NULL, 0);
	c.ack[0] = c.nxt[1];
	emit(g, &c, 0, DP_TCP_ACK, c.nxt[0], NULL, 0);

	startup_messages(g, &c, cm, sm);
	for (uint32_t q = 0; q < g->p->queries && !g->fail; q++) {
		g->st->rows += g->p->mix == SG_MIX_STANDARD ?
			       make_standard_query(&g->rng, g->p->rows, cm, sm) :
			       make_customers_query(&g->rng, g->p->rows, rng_below(&g->rng, 100), cm, sm);
		g->st->queries++;
		c2s_send(g, &c, cm, 0);
		s2c_send(g, &c, sm);
	}
	/* Terminate, with the client's FIN on the same segment */
	mb_reset(cm);
	st = mb_begin(cm, 'X');
	mb_end(cm, st, 1);
	c2s_send(g, &c, cm, 1);
	emit(g, &c, 1, DP_TCP_FIN | DP_TCP_ACK, c.nxt[1]++, NULL, 0);
	c.ack[0] = c.nxt[1];
	emit(g, &c, 0, DP_TCP_ACK, c.nxt[0], NULL, 0);
	if (cm->b.oom || sm->b.oom || cm->oom || sm->oom)
		g->fail = 1;
}

/* ---- delivery schedule ---- */

/* Orders the frames as a NIC would deliver them and cuts bursts; copies the frames into
 * a buffer in that order. */
static int schedule(struct gen *g, struct sg_trace *t)
{
	const struct sg_params *p = g->p;
	uint32_t n_sess = p->flows, n_active = p->active < n_sess ? p->active : n_sess;
	uint32_t *act = malloc((size_t)n_active * sizeof(*act));
	uint32_t *pos = malloc((size_t)n_sess * sizeof(*pos));
	uint32_t next_sess = n_active, cap_bursts = g->n_frames / 4 + 16, n_out = 0;
	uint64_t off = 0;
	int rc = -1;

	t->frames = malloc((size_t)g->n_frames * sizeof(*t->frames));
	t->buf = malloc(g->buf.len ? g->buf.len : 1);
	t->bursts = malloc((size_t)cap_bursts * sizeof(*t->bursts));
	if (!act || !pos || !t->frames || !t->buf || !t->bursts)
		goto out;
	for (uint32_t s = 0; s < n_sess; s++)
		pos[s] = g->sess_first[s];
	for (uint32_t i = 0; i < n_active; i++)
		act[i] = i;
	while (n_active) {
		for (uint8_t port = 0; port < 2; port++) {
			struct sg_burst *b = NULL;
			for (uint32_t i = 0; i < n_active; i++) {
				uint32_t s = act[i], end = g->sess_first[s + 1];
				for (uint32_t k = 0; k < p->per_visit && pos[s] < end &&
						     g->frames[pos[s]].port == port; k++) {
					const struct sg_frame *f = &g->frames[pos[s]++];
					if (b == NULL || b->n == p->burst) {
						if (t->n_bursts == cap_bursts) {
							cap_bursts *= 2;
							struct sg_burst *nb = realloc(t->bursts, (size_t)cap_bursts * sizeof(*nb));
							if (nb == NULL)
								goto out;
							t->bursts = nb;
						}
						b = &t->bursts[t->n_bursts++];
						*b = (struct sg_burst){ .first = n_out, .n = 0, .port = port };
					}
					memcpy(t->buf + off, g->buf.p + f->off, f->len);
					t->frames[n_out] = *f;
					t->frames[n_out].off = off;
					off += f->len;
					n_out++;
					b->n++;
				}
			}
		}
		/* finished sessions leave the set; waiting ones take their place */
		uint32_t keep = 0;
		for (uint32_t i = 0; i < n_active; i++) {
			uint32_t s = act[i];
			if (pos[s] < g->sess_first[s + 1])
				act[keep++] = s;
			else if (next_sess < n_sess)
				act[keep++] = next_sess++;
		}
		n_active = keep;
	}
	t->n_frames = n_out;
	t->buf_len = off;
	rc = n_out == g->n_frames ? 0 : -1;
out:
	free(act);
	free(pos);
	return rc;
}

/* ---- API ---- */

void sg_params_default(struct sg_params *p)
{
	*p = (struct sg_params){
		.flows = 4096, .active = 1024, .queries = 20, .rows = 20,
		.reorder_pct = 1.0, .rtx_pct = 0.5, .per_visit = 2, .burst = 32,
		.mss = 1460, .seed = 1,
	};
}

int64_t sg_session_of(uint32_t ip, uint16_t port, uint64_t sessions)
{
	uint64_t s;

	if (ip < SG_CLIENT_IP0 || port < SG_CLIENT_PORT0 || port >= SG_CLIENT_PORT0 + 0x4000)
		return -1;
	s = ((uint64_t)(ip - SG_CLIENT_IP0) << 14) | (uint64_t)(port - SG_CLIENT_PORT0);
	return s < sessions ? (int64_t)s : -1;
}

void sg_free(struct sg_trace *t)
{
	free(t->buf);
	free(t->frames);
	free(t->bursts);
	free(t->sums);
	memset(t, 0, sizeof(*t));
}

int sg_build(const struct sg_params *p, struct rte_mempool *scratch, struct sg_trace *t,
	     char *err, size_t errlen)
{
	struct gen g = { .p = p, .pool = scratch };
	struct msgbuf cm = { 0 }, sm = { 0 };
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (p->flows == 0 || p->flows > (1u << 24) || p->active == 0 || p->burst == 0 ||
	    p->burst > 32 || p->per_visit == 0 || p->mss < 256 || p->mss > 1460 ||
	    p->reorder_pct < 0 || p->reorder_pct > 100 || p->rtx_pct < 0 || p->rtx_pct > 100 ||
	    p->rows == 0 || p->rows > 100000) {
		snprintf(err, errlen, "parameters out of range");
		return -1;
	}
	g.rng.s = p->seed ? p->seed : 1;
	g.st = &t->st;
	g.seg_payload = p->mss - SG_TS_OPT_LEN;
	g.sess_first = malloc(((size_t)p->flows + 1) * sizeof(*g.sess_first));
	t->sums = calloc((size_t)p->flows * 2, sizeof(*t->sums));
	if (g.sess_first == NULL || t->sums == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (uint32_t s = 0; s < p->flows && !g.fail; s++) {
		g.sess_first[s] = g.n_frames;
		session(&g, s, &t->sums[2 * s], &cm, &sm);
	}
	g.sess_first[p->flows] = g.n_frames;
	if (g.fail) {
		snprintf(err, errlen, "out of memory or mbufs while generating (%u frames so far)", g.n_frames);
		goto out;
	}
	if (schedule(&g, t) < 0) {
		snprintf(err, errlen, "out of memory while scheduling");
		goto out;
	}
	t->st.sessions = p->flows;
	t->st.frames = t->n_frames;
	for (uint32_t i = 0; i < t->n_frames; i++)
		t->st.frames_port[t->frames[i].port]++;
	t->st.bursts = t->n_bursts;
	rc = 0;
out:
	if (rc < 0)
		sg_free(t);
	free(g.buf.p);
	free(g.frames);
	free(g.sess_first);
	free(g.ord);
	free(g.flags);
	free(cm.b.p);
	free(cm.ends);
	free(sm.b.p);
	free(sm.ends);
	return rc;
}
