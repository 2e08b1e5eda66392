/* pg_extquery.c - a PostgreSQL client that runs each statement through the extended query protocol (Parse/Bind/Describe/Execute/Sync) and prints the rows, for tests that compare what the appliance does to both protocols.
 *
 * Usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]
 * An SQL argument "@FILE" is the contents of FILE (a statement longer than an
 * argument may be, 128 KiB), without a final newline; "binary:SQL" asks for the results
 * in binary format (text-like columns then arrive as their characters).
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

/* Sends Parse/Bind/Describe/Execute/Sync for <sql> in one write; results in binary
 * format if <binary>. Returns 0 or -1. */
static int pgw_send_query(int fd, const char *sql, int binary)
{
	struct pgw_buf b = { 0 }, body = { 0 };
	/* Bind: unnamed portal and statement, no parameter formats, no parameters, one
	 * result format code for all columns: 0 (text) or 1 (binary) */
	uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, (uint8_t)(binary ? 1 : 0) };
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

/* The text of SQL argument <arg>: itself, or for "@FILE" FILE's contents (malloc'ed
 * into *<own>, a final newline dropped). NULL if FILE cannot be read. */
static const char *sql_arg(const char *arg, char **own)
{
	FILE *f;
	long n;

	*own = NULL;
	if (arg[0] != '@')
		return arg;
	if ((f = fopen(arg + 1, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (*own = malloc((size_t)n + 1)) == NULL ||
	    fread(*own, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "pg_extquery: cannot read %s\n", arg + 1);
		if (f)
			fclose(f);
		free(*own);
		*own = NULL;
		return NULL;
	}
	fclose(f);
	if (n > 0 && (*own)[n - 1] == '\n')
		n--;
	(*own)[n] = 0;
	return *own;
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
	for (int i = 6; i < argc; i++) {
		char *own;
		int binary = strncmp(argv[i], "binary:", 7) == 0;
		const char *sql = sql_arg(argv[i] + (binary ? 7 : 0), &own);
		int bad = sql == NULL || pgw_send_query(fd, sql, binary) < 0 ||
			  pgw_until_ready(fd, argv[3], argv[5]) < 0;

		free(own);
		if (bad)
			return 1;
	}
	pgw_send(fd, terminate, sizeof(terminate));
	close(fd);
	return 0;
}
