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
 * Every wait is bounded (10 s per read).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tests/tools/pgwire.h"

#define BYTE_PAUSE_US 300

/* Sends <p> one byte per send(), pausing between bytes: one byte per TCP segment. */
static int send_onebyte(int fd, const uint8_t *p, size_t n)
{
	const struct timespec pause = { 0, BYTE_PAUSE_US * 1000L };

	for (size_t i = 0; i < n; i++) {
		if (send(fd, p + i, 1, MSG_NOSIGNAL) != 1) {
			perror("pg_onebyte: send");
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t terminate[] = { 'X', 0, 0, 0, 4 };
	int fd;

	pgw_init("pg_onebyte", send_onebyte);
	if (argc < 7) {
		fprintf(stderr, "usage: pg_onebyte HOST PORT USER DATABASE PASSWORD SQL [SQL ...]\n");
		return 2;
	}
	if ((fd = pgw_connect(argv[1], argv[2])) < 0 || pgw_startup(fd, argv[3], argv[4], argv[5]) < 0)
		return 1;
	for (int i = 6; i < argc; i++) {
		struct pgw_buf q = { 0 };
		if (pgw_msg(&q, 'Q', argv[i], strlen(argv[i]) + 1) < 0 ||
		    send_onebyte(fd, q.p, q.len) < 0 || pgw_until_ready(fd, argv[3], argv[5]) < 0)
			return 1;
		free(q.p);
	}
	send_onebyte(fd, terminate, sizeof(terminate));
	close(fd);
	return 0;
}
