/* pg_onebyte.c - a PostgreSQL client that sends every byte of the protocol in its own
 * TCP segment (TCP_NODELAY, one send() per byte, a pause between bytes), for tests of
 * reassembly: the appliance must judge and mask exactly as for a normal client.
 *
 * Usage: pg_onebyte HOST PORT USER DATABASE PASSWORD SQL [SQL ...]
 * Authentication: trust, cleartext or md5. Each SQL is sent as one simple Query; the
 * answer is printed as text lines:
 *   COLUMNS a|b|c        RowDescription
 *   ROW v1|v2|NULL       DataRow
 *   COMPLETE tag         CommandComplete
 *   ERROR sqlstate msg   ErrorResponse
 *   READY x              ReadyForQuery
 * Exits 0 when every query got its ReadyForQuery, 1 on a connection or protocol error.
 * Every wait is bounded (5 s per read).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BYTE_PAUSE_US 300
#define READ_TIMEOUT_MS 5000

static int send_onebyte(int fd, const uint8_t *p, size_t n)
{
	const struct timespec pause = { 0, BYTE_PAUSE_US * 1000L };

	for (size_t i = 0; i < n; i++) {
		if (send(fd, p + i, 1, MSG_NOSIGNAL) != 1) {
			perror("send");
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, READ_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "pg_onebyte: read timed out\n");
			return -1;
		}
		ssize_t r = recv(fd, p + got, n - got, 0);
		if (r <= 0) {
			fprintf(stderr, "pg_onebyte: connection closed\n");
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reads one message: type in *<t>, body (malloc'd) in *<body>, length in *<len>. */
static int read_msg(int fd, uint8_t *t, uint8_t **body, uint32_t *len)
{
	uint8_t h[5];

	if (read_full(fd, h, 5) < 0)
		return -1;
	*t = h[0];
	*len = be32(h + 1) - 4;
	if (*len > (1u << 28))
		return -1;
	*body = malloc(*len + 1);
	if (*body == NULL || read_full(fd, *body, *len) < 0)
		return -1;
	(*body)[*len] = 0;
	return 0;
}

static void md5_hex(const uint8_t *in, size_t n, char out[33])
{
	uint8_t d[16];
	unsigned dl = 0;

	EVP_Digest(in, n, d, &dl, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int send_password(int fd, const char *pw)
{
	size_t n = strlen(pw) + 1;
	uint8_t *m = malloc(n + 5);
	int rc;

	m[0] = 'p';
	put32(m + 1, (uint32_t)(n + 4));
	memcpy(m + 5, pw, n);
	rc = send_onebyte(fd, m, n + 5);
	free(m);
	return rc;
}

static void print_fields(const char *what, const uint8_t *b, uint32_t len, int row)
{
	uint32_t p = 2, n = (uint32_t)(b[0] << 8 | b[1]);

	printf("%s ", what);
	for (uint32_t c = 0; c < n && p <= len; c++) {
		if (c)
			putchar('|');
		if (row) {
			int32_t fl = (int32_t)be32(b + p);
			p += 4;
			if (fl < 0) {
				fputs("NULL", stdout);
				continue;
			}
			fwrite(b + p, 1, (size_t)fl, stdout);
			p += (uint32_t)fl;
		} else {
			size_t nl = strlen((const char *)b + p);
			fwrite(b + p, 1, nl, stdout);
			p += (uint32_t)nl + 1 + 18;
		}
	}
	putchar('\n');
}

/* Prints messages until ReadyForQuery. Returns 0, or -1 on error. */
static int until_ready(int fd, const char *user, const char *pw)
{
	for (;;) {
		uint8_t t, *b;
		uint32_t len;
		if (read_msg(fd, &t, &b, &len) < 0)
			return -1;
		switch (t) {
		case 'R': {
			uint32_t code = be32(b);
			if (code == 3) {
				send_password(fd, pw);
			} else if (code == 5) {
				char inner[33], outer[36] = "md5";
				size_t ul = strlen(user), pl = strlen(pw);
				uint8_t *x = malloc(pl + ul + 40);
				memcpy(x, pw, pl);
				memcpy(x + pl, user, ul);
				md5_hex(x, pl + ul, inner);
				memcpy(x, inner, 32);
				memcpy(x + 32, b + 4, 4);
				md5_hex(x, 36, outer + 3);
				free(x);
				send_password(fd, outer);
			} else if (code != 0) {
				fprintf(stderr, "pg_onebyte: authentication method %u not supported\n", code);
				free(b);
				return -1;
			}
			break;
		}
		case 'T':
			print_fields("COLUMNS", b, len, 0);
			break;
		case 'D':
			print_fields("ROW", b, len, 1);
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
				p += (uint32_t)strlen(v) + 2;
			}
			printf("ERROR %s %s\n", code, msg);
			break;
		}
		case 'Z':
			printf("READY %c\n", b[0]);
			free(b);
			fflush(stdout);
			return 0;
		default:
			break;
		}
		free(b);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t start[512];
	uint32_t n = 8;
	int one = 1, fd;

	if (argc < 7) {
		fprintf(stderr, "usage: pg_onebyte HOST PORT USER DATABASE PASSWORD SQL [SQL ...]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "pg_onebyte: bad address %s\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	put32(start + 4, 196608);
	n += (uint32_t)sprintf((char *)start + n, "user") + 1;
	n += (uint32_t)sprintf((char *)start + n, "%s", argv[3]) + 1;
	n += (uint32_t)sprintf((char *)start + n, "database") + 1;
	n += (uint32_t)sprintf((char *)start + n, "%s", argv[4]) + 1;
	start[n++] = 0;
	put32(start, n);
	if (send_onebyte(fd, start, n) < 0 || until_ready(fd, argv[3], argv[5]) < 0)
		return 1;
	for (int i = 6; i < argc; i++) {
		size_t ql = strlen(argv[i]) + 1;
		uint8_t *q = malloc(ql + 5);
		q[0] = 'Q';
		put32(q + 1, (uint32_t)(ql + 4));
		memcpy(q + 5, argv[i], ql);
		if (send_onebyte(fd, q, ql + 5) < 0 || until_ready(fd, argv[3], argv[5]) < 0)
			return 1;
		free(q);
	}
	send_onebyte(fd, (const uint8_t *)"X\0\0\0\4", 5);
	close(fd);
	return 0;
}
