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
#include "tests/tools/pgwire.h"

/* Sends Parse/Bind/Describe/Execute/Sync for <sql> in one write. Returns 0 or -1. */
static int pgw_send_query(int fd, const char *sql)
{
	struct pgw_buf b = { 0 }, body = { 0 };
	/* Bind: unnamed portal and statement, no parameter formats, no parameters, one
	 * result format code for all columns: 0 (text) */
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 };
	static const uint8_t describe[] = { 'P', 0 };
	static const uint8_t execute[] = { 0, 0, 0, 0, 0 }; /* unnamed portal, all rows */
	static const uint8_t no_params[] = { 0, 0 };
	int rc = -1;

	if (pgw_add(&body, "", 1) == 0 && pgw_add(&body, sql, strlen(sql) + 1) == 0 &&
	    pgw_add(&body, no_params, sizeof(no_params)) == 0 &&
	    pgw_msg(&b, 'P', body.p, body.len) == 0 && pgw_msg(&b, 'B', bind, sizeof(bind)) == 0 &&
	    pgw_msg(&b, 'D', describe, sizeof(describe)) == 0 &&
	    pgw_msg(&b, 'E', execute, sizeof(execute)) == 0 && pgw_msg(&b, 'S', NULL, 0) == 0)
		rc = pgw_send(fd, b.p, b.len);
	free(body.p);
	free(b.p);
	return rc;
}

int main(int argc, char **argv)
{
	static const uint8_t terminate[] = { 'X', 0, 0, 0, 4 };
	int fd;

	pgw_init("pg_extquery", NULL);
	if (argc < 7) {
		fprintf(stderr, "usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]\n");
		return 2;
	}
	if ((fd = pgw_connect(argv[1], argv[2])) < 0 || pgw_startup(fd, argv[3], argv[4], argv[5]) < 0)
		return 1;
	for (int i = 6; i < argc; i++)
		if (pgw_send_query(fd, argv[i]) < 0 || pgw_until_ready(fd, argv[3], argv[5]) < 0)
			return 1;
	pgw_send(fd, terminate, sizeof(terminate));
	close(fd);
	return 0;
}
