/* pg_extquery.c - a PostgreSQL client that runs each statement through the extended query protocol (Parse/Bind/Describe/Execute/Sync) and prints the rows, for tests that compare what the appliance does to both protocols.
 *
 * Usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]
 * Authentication: trust, cleartext or md5 (no SCRAM: give the test role an md5
 * password). Each SQL is sent as one unnamed statement with no parameters and text
 * results, all five messages in one write; the answer is printed as text lines, in
 * the same format as pg_onebyte:
 *   COLUMNS a|b|c        RowDescription
 *   ROW v1|v2|NULL       DataRow
 *   COMPLETE tag         CommandComplete
 *   ERROR sqlstate msg   ErrorResponse
 *   READY x              ReadyForQuery
 * Exits 0 when every statement got its ReadyForQuery, 1 on a connection or protocol
 * error, 2 on a usage error. Every wait is bounded (10 s per read).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_TIMEOUT_MS 10000
#define MAX_MSG_LEN (1u << 28)

/* Growable output buffer for the messages of one statement. */
struct pgx_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static void pgx_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t pgx_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends <n> bytes. Returns 0, or -1 when out of memory. */
static int pgx_add(struct pgx_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Appends one message: type <t> (0: none, the start-up) and body <body> of <n> bytes. */
static int pgx_msg(struct pgx_buf *b, char t, const void *body, size_t n)
{
	uint8_t h[4];

	if (t && pgx_add(b, &t, 1) < 0)
		return -1;
	pgx_put32(h, (uint32_t)(n + 4));
	if (pgx_add(b, h, 4) < 0)
		return -1;
	return n ? pgx_add(b, body, n) : 0;
}

static int pgx_send(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) {
			perror("pg_extquery: send");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int pgx_read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, READ_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "pg_extquery: read timed out\n");
			return -1;
		}
		ssize_t r = recv(fd, p + got, n - got, 0);
		if (r <= 0) {
			fprintf(stderr, "pg_extquery: connection closed\n");
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Reads one message: type in *<t>, body (malloc'd, NUL-terminated) in *<body>, its
 * length in *<len>. Returns 0, or -1 on error. */
static int pgx_read_msg(int fd, uint8_t *t, uint8_t **body, uint32_t *len)
{
	uint8_t h[5];

	if (pgx_read_full(fd, h, 5) < 0)
		return -1;
	*t = h[0];
	if (pgx_be32(h + 1) < 4 || pgx_be32(h + 1) > MAX_MSG_LEN) {
		fprintf(stderr, "pg_extquery: bad message length\n");
		return -1;
	}
	*len = pgx_be32(h + 1) - 4;
	*body = malloc(*len + 1);
	if (*body == NULL || pgx_read_full(fd, *body, *len) < 0) {
		free(*body);
		return -1;
	}
	(*body)[*len] = 0;
	return 0;
}

static void pgx_md5_hex(const uint8_t *in, size_t n, char out[33])
{
	uint8_t d[16];
	unsigned dl = 0;

	EVP_Digest(in, n, d, &dl, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int pgx_send_password(int fd, const char *pw)
{
	struct pgx_buf b = { 0 };
	int rc = pgx_msg(&b, 'p', pw, strlen(pw) + 1) == 0 ? pgx_send(fd, b.p, b.len) : -1;

	free(b.p);
	return rc;
}

/* Answers an md5 challenge: "md5" + md5(md5(password + user) + salt). */
static int pgx_send_md5(int fd, const char *user, const char *pw, const uint8_t salt[4])
{
	char inner[33], outer[36] = "md5";
	size_t ul = strlen(user), pl = strlen(pw);
	uint8_t *x = malloc(pl + ul + 40);

	if (x == NULL)
		return -1;
	memcpy(x, pw, pl);
	memcpy(x + pl, user, ul);
	pgx_md5_hex(x, pl + ul, inner);
	memcpy(x, inner, 32);
	memcpy(x + 32, salt, 4);
	pgx_md5_hex(x, 36, outer + 3);
	free(x);
	return pgx_send_password(fd, outer);
}

/* Prints a RowDescription (<row> 0) or a DataRow (<row> 1) as one line, fields
 * separated by '|', bounded by the message length <len>. */
static void pgx_print_fields(const char *what, const uint8_t *b, uint32_t len, int row)
{
	uint32_t p = 2, n = len >= 2 ? (uint32_t)(b[0] << 8 | b[1]) : 0;

	printf("%s ", what);
	for (uint32_t c = 0; c < n && p <= len; c++) {
		if (c)
			putchar('|');
		if (row) {
			if (p + 4 > len)
				break;
			int32_t fl = (int32_t)pgx_be32(b + p);
			p += 4;
			if (fl < 0) {
				fputs("NULL", stdout);
				continue;
			}
			if ((uint32_t)fl > len - p)
				break;
			fwrite(b + p, 1, (size_t)fl, stdout);
			p += (uint32_t)fl;
		} else {
			size_t nl = strnlen((const char *)b + p, len - p);
			fwrite(b + p, 1, nl, stdout);
			p += (uint32_t)nl + 1 + 18;
		}
	}
	putchar('\n');
}

/* Prints messages until ReadyForQuery, answering authentication requests. Returns 0,
 * or -1 on error. */
static int pgx_until_ready(int fd, const char *user, const char *pw)
{
	for (;;) {
		uint8_t t, *b;
		uint32_t len;
		int rc = 0;

		if (pgx_read_msg(fd, &t, &b, &len) < 0)
			return -1;
		switch (t) {
		case 'R': {
			uint32_t code = len >= 4 ? pgx_be32(b) : 99;
			if (code == 3)
				rc = pgx_send_password(fd, pw);
			else if (code == 5 && len >= 8)
				rc = pgx_send_md5(fd, user, pw, b + 4);
			else if (code != 0) {
				fprintf(stderr, "pg_extquery: authentication method %u not supported\n",
					code);
				rc = -1;
			}
			break;
		}
		case 'T':
			pgx_print_fields("COLUMNS", b, len, 0);
			break;
		case 'D':
			pgx_print_fields("ROW", b, len, 1);
			break;
		case 'C':
			printf("COMPLETE %s\n", (const char *)b);
			break;
		case 'E': {
			const char *code = "", *msg = "";
			for (uint32_t p = 0; p < len && b[p];) {
				const char *v = (const char *)b + p + 1;
				if (b[p] == 'C')
					code = v;
				if (b[p] == 'M')
					msg = v;
				p += (uint32_t)strnlen(v, len - p - 1) + 2;
			}
			printf("ERROR %s %s\n", code, msg);
			break;
		}
		case 'G':
		case 'H':
			/* COPY needs the simple protocol's CopyDone/CopyFail dance: not offered */
			fprintf(stderr, "pg_extquery: COPY is not supported\n");
			rc = -1;
			break;
		case 'Z':
			printf("READY %c\n", len ? b[0] : '?');
			free(b);
			fflush(stdout);
			return 0;
		default:
			/* ParseComplete, BindComplete, NoData, ParameterStatus, notices, ... */
			break;
		}
		free(b);
		if (rc < 0)
			return -1;
	}
}

/* Sends Parse/Bind/Describe/Execute/Sync for <sql> in one write. Returns 0 or -1. */
static int pgx_send_query(int fd, const char *sql)
{
	struct pgx_buf b = { 0 }, body = { 0 };
	/* Bind: unnamed portal and statement, no parameter formats, no parameters, one
	 * result format code for all columns: 0 (text) */
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 };
	static const uint8_t describe[] = { 'P', 0 };
	static const uint8_t execute[] = { 0, 0, 0, 0, 0 }; /* unnamed portal, all rows */
	static const uint8_t no_params[] = { 0, 0 };
	int rc = -1;

	if (pgx_add(&body, "", 1) == 0 && pgx_add(&body, sql, strlen(sql) + 1) == 0 &&
	    pgx_add(&body, no_params, sizeof(no_params)) == 0 &&
	    pgx_msg(&b, 'P', body.p, body.len) == 0 && pgx_msg(&b, 'B', bind, sizeof(bind)) == 0 &&
	    pgx_msg(&b, 'D', describe, sizeof(describe)) == 0 &&
	    pgx_msg(&b, 'E', execute, sizeof(execute)) == 0 && pgx_msg(&b, 'S', NULL, 0) == 0)
		rc = pgx_send(fd, b.p, b.len);
	free(body.p);
	free(b.p);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pgx_buf start = { 0 };
	static const uint8_t terminate[] = { 'X', 0, 0, 0, 4 };
	uint8_t version[4];
	int one = 1, fd;

	if (argc < 7) {
		fprintf(stderr, "usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "pg_extquery: bad address %s\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("pg_extquery: socket");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("pg_extquery: connect");
		return 1;
	}
	pgx_put32(version, 196608); /* protocol 3.0 */
	struct pgx_buf body = { 0 };
	if (pgx_add(&body, version, 4) < 0 || pgx_add(&body, "user", 5) < 0 ||
	    pgx_add(&body, argv[3], strlen(argv[3]) + 1) < 0 || pgx_add(&body, "database", 9) < 0 ||
	    pgx_add(&body, argv[4], strlen(argv[4]) + 1) < 0 || pgx_add(&body, "", 1) < 0 ||
	    pgx_msg(&start, 0, body.p, body.len) < 0)
		return 1;
	free(body.p);
	if (pgx_send(fd, start.p, start.len) < 0 || pgx_until_ready(fd, argv[3], argv[5]) < 0)
		return 1;
	free(start.p);
	for (int i = 6; i < argc; i++)
		if (pgx_send_query(fd, argv[i]) < 0 || pgx_until_ready(fd, argv[3], argv[5]) < 0)
			return 1;
	pgx_send(fd, terminate, sizeof(terminate));
	close(fd);
	return 0;
}
