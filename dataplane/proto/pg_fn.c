/* pg_fn.c - the SQL a PostgreSQL FunctionCall stands for, so that rules judge it.
 *
 * A FunctionCall message ('F') runs a function named by OID, not by SQL text: libpq's
 * PQfn and its large-object calls (lo_open, loread, lowrite ...) send it, and so does
 * JDBC's large-object API. Left unjudged it would run what the rules refuse as SQL
 * (pg_read_file, lo_export), so the decoder judges it as the statement
 * "SELECT name($1, ...)" that does the same. Only built-in functions can be named: their
 * OIDs are fixed in PostgreSQL's catalog (pg_proc.dat) and have not changed between
 * releases, where a user function's OID differs from one database to the next. The
 * table holds the large-object API (what clients really send) and the functions that
 * reach the server's files or other sessions (what the packs, or a DBA's rules, name);
 * a FunctionCall of any other OID is refused by dataplane.unjudged (pg.c).
 */
#include <stdio.h>
#include "dataplane/proto/pg.h"
#include "dataplane/proto/pg_wire.h"

struct pg_fn {
	uint32_t oid;
	const char *name;
};

/* Sorted by OID (pg_fn_name() searches it). From pg_proc of PostgreSQL 15:
 * SELECT oid, proname FROM pg_proc WHERE proname ~ '^(lo_|loread|lowrite|pg_read_|...)' */
static const struct pg_fn pg_fns[] = {
	{ 715, "lo_create" },   { 764, "lo_import" },   { 765, "lo_export" },
	{ 767, "lo_import" },   { 952, "lo_open" },     { 953, "lo_close" },
	{ 954, "loread" },      { 955, "lowrite" },     { 956, "lo_lseek" },
	{ 957, "lo_creat" },    { 958, "lo_tell" },     { 964, "lo_unlink" },
	{ 1004, "lo_truncate" }, { 2096, "pg_terminate_backend" },
	{ 2171, "pg_cancel_backend" }, { 2621, "pg_reload_conf" },
	{ 2622, "pg_rotate_logfile" }, { 2623, "pg_stat_file" }, { 2624, "pg_read_file" },
	{ 2625, "pg_ls_dir" },  { 3170, "lo_lseek64" }, { 3171, "lo_tell64" },
	{ 3172, "lo_truncate64" }, { 3293, "pg_read_file" }, { 3295, "pg_read_binary_file" },
	{ 3297, "pg_ls_dir" },  { 3307, "pg_stat_file" }, { 3457, "lo_from_bytea" },
	{ 3458, "lo_get" },     { 3459, "lo_get" },     { 3460, "lo_put" },
	{ 3826, "pg_read_file" }, { 3827, "pg_read_binary_file" },
	{ 3828, "pg_read_binary_file" }, { 4100, "pg_read_file_old" },
};

const char *pg_fn_name(uint32_t oid)
{
	size_t lo = 0, hi = sizeof(pg_fns) / sizeof(pg_fns[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pg_fns[mid].oid == oid)
			return pg_fns[mid].name;
		if (pg_fns[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint32_t pg_fn_sql(const uint8_t *m, uint32_t len, char *out, size_t cap, uint32_t *oid)
{
	/* 'F', length, function OID, argument format codes (a count, then the codes), the
	 * arguments (a count, then each) and the result's format code */
	const char *name;
	uint32_t p = 9, nfmt, nargs;
	size_t o;

	*oid = len >= 9 ? be32(m + 5) : 0;
	if (len < 11 || (name = pg_fn_name(*oid)) == NULL)
		return 0;
	nfmt = be16(m + p);
	p += 2 + 2 * nfmt;
	if (p + 2 > len)
		return 0;
	nargs = be16(m + p);
	if (nargs > PG_FN_MAX_ARGS)
		return 0;
	o = (size_t)snprintf(out, cap, "SELECT %s(", name);
	for (uint32_t i = 1; i <= nargs && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, i > 1 ? ", $%u" : "$%u", i);
	if (o + 2 > cap)
		return 0;
	out[o++] = ')';
	out[o] = 0;
	return (uint32_t)o;
}
