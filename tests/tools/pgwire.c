/* pgwire.c - the PostgreSQL wire-protocol pieces the test clients share (pg_onebyte,
 * pg_extquery): message building, bounded reads, md5 authentication, and printing the
 * answers as COLUMNS / ROW / COMPLETE / ERROR / READY lines. */
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "tests/tools/pgwire.h"

#define READ_TIMEOUT_MS 10000
#define MAX_MSG_LEN (1u << 28)

/* The tool's name for messages and how it sends (one byte per segment, or whole):
 * set once by pgw_init, read by the functions below. A test tool's process-wide
 * settings, not data-plane state. */
static const char *pgw_prog = "pgwire";
static pgw_send_pt pgw_sendfn = pgw_send;

void pgw_init(const char *prog, pgw_send_pt send_fn)
{
	pgw_prog = prog;
	pgw_sendfn = send_fn ? send_fn : pgw_send;
}

void pgw_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t pgw_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends <n> bytes. Returns 0, or -1 when out of memory. */
int pgw_add(struct pgw_buf *b, const void *p, size_t n)
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
int pgw_msg(struct pgw_buf *b, char t, const void *body, size_t n)
{
	uint8_t h[4];

	if (t && pgw_add(b, &t, 1) < 0)
		return -1;
	pgw_put32(h, (uint32_t)(n + 4));
	if (pgw_add(b, h, 4) < 0)
		return -1;
	return n ? pgw_add(b, body, n) : 0;
}

int pgw_send(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) {
			fprintf(stderr, "%s: send: %s\n", pgw_prog, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int pgw_read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, READ_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "%s: read timed out\n", pgw_prog);
			return -1;
		}
		ssize_t r = recv(fd, p + got, n - got, 0);
		if (r <= 0) {
			fprintf(stderr, "%s: connection closed\n", pgw_prog);
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Reads one message: type in *<t>, body (malloc'd, NUL-terminated) in *<body>, its
 * length in *<len>. Returns 0, or -1 on error. */
int pgw_read_msg(int fd, uint8_t *t, uint8_t **body, uint32_t *len)
{
	uint8_t h[5];

	if (pgw_read_full(fd, h, 5) < 0)
		return -1;
	*t = h[0];
	if (pgw_be32(h + 1) < 4 || pgw_be32(h + 1) > MAX_MSG_LEN) {
		fprintf(stderr, "%s: bad message length\n", pgw_prog);
		return -1;
	}
	*len = pgw_be32(h + 1) - 4;
	*body = malloc(*len + 1);
	if (*body == NULL || pgw_read_full(fd, *body, *len) < 0) {
		free(*body);
		return -1;
	}
	(*body)[*len] = 0;
	return 0;
}

void pgw_md5_hex(const uint8_t *in, size_t n, char out[33])
{
	uint8_t d[16];
	unsigned dl = 0;

	EVP_Digest(in, n, d, &dl, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

int pgw_send_password(int fd, const char *pw)
{
	struct pgw_buf b = { 0 };
	int rc = pgw_msg(&b, 'p', pw, strlen(pw) + 1) == 0 ? pgw_sendfn(fd, b.p, b.len) : -1;

	free(b.p);
	return rc;
}

/* Answers an md5 challenge: "md5" + md5(md5(password + user) + salt). */
int pgw_send_md5(int fd, const char *user, const char *pw, const uint8_t salt[4])
{
	char inner[33], outer[36] = "md5";
	size_t ul = strlen(user), pl = strlen(pw);
	uint8_t *x = malloc(pl + ul + 40);

	if (x == NULL)
		return -1;
	memcpy(x, pw, pl);
	memcpy(x + pl, user, ul);
	pgw_md5_hex(x, pl + ul, inner);
	memcpy(x, inner, 32);
	memcpy(x + 32, salt, 4);
	pgw_md5_hex(x, 36, outer + 3);
	free(x);
	return pgw_send_password(fd, outer);
}

/* Prints a RowDescription (<row> 0) or a DataRow (<row> 1) as one line, fields
 * separated by '|', bounded by the message length <len>. */
void pgw_print_fields(const char *what, const uint8_t *b, uint32_t len, int row)
{
	uint32_t p = 2, n = len >= 2 ? (uint32_t)(b[0] << 8 | b[1]) : 0;

	printf("%s ", what);
	for (uint32_t c = 0; c < n && p <= len; c++) {
		if (c)
			putchar('|');
		if (row) {
			if (p + 4 > len)
				break;
			int32_t fl = (int32_t)pgw_be32(b + p);
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
int pgw_until_ready(int fd, const char *user, const char *pw)
{
	for (;;) {
		uint8_t t, *b;
		uint32_t len;
		int rc = 0;

		if (pgw_read_msg(fd, &t, &b, &len) < 0)
			return -1;
		switch (t) {
		case 'R': {
			uint32_t code = len >= 4 ? pgw_be32(b) : 99;
			if (code == 3)
				rc = pgw_send_password(fd, pw);
			else if (code == 5 && len >= 8)
				rc = pgw_send_md5(fd, user, pw, b + 4);
			else if (code != 0) {
				fprintf(stderr, "%s: authentication method %u not supported\n",
					pgw_prog, code);
				rc = -1;
			}
			break;
		}
		case 'T':
			pgw_print_fields("COLUMNS", b, len, 0);
			break;
		case 'D':
			pgw_print_fields("ROW", b, len, 1);
			break;
		case 'V': {
			/* FunctionCallResponse: the value's length (-1: NULL), then its bytes */
			int32_t vl = len >= 4 ? (int32_t)pgw_be32(b) : -1;
			if (vl < 0 || (uint32_t)vl > len - 4)
				printf("FUNCTION NULL\n");
			else
				printf("FUNCTION %.*s\n", vl, (const char *)b + 4);
			break;
		}
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
			fprintf(stderr, "%s: COPY is not supported\n", pgw_prog);
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


int pgw_connect(const char *host, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, fd;

	sa.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: bad address %s\n", pgw_prog, host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", pgw_prog, strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "%s: connect: %s\n", pgw_prog, strerror(errno));
		return -1;
	}
	return fd;
}

int pgw_startup(int fd, const char *user, const char *db, const char *pw)
{
	struct pgw_buf start = { 0 }, body = { 0 };
	uint8_t version[4];
	int rc = -1;

	pgw_put32(version, 196608); /* protocol 3.0 */
	if (pgw_add(&body, version, 4) == 0 && pgw_add(&body, "user", 5) == 0 &&
	    pgw_add(&body, user, strlen(user) + 1) == 0 && pgw_add(&body, "database", 9) == 0 &&
	    pgw_add(&body, db, strlen(db) + 1) == 0 && pgw_add(&body, "", 1) == 0 &&
	    pgw_msg(&start, 0, body.p, body.len) == 0 && pgw_sendfn(fd, start.p, start.len) == 0)
		rc = pgw_until_ready(fd, user, pw);
	free(body.p);
	free(start.p);
	return rc;
}
