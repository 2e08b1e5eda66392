#!/usr/bin/env bash
# test_enforce_block.sh - statements the shipped rule packs block never reach PostgreSQL, the client gets the rule's error and its session goes on (simple and extended protocols).
#
# tollgated runs the demo configuration with its four rule packs. One psql session
# (simple query protocol) sends, among allowed statements, DROP TABLE in several
# spellings, a multi-statement query holding a DROP, a DO block holding one, TRUNCATE,
# DELETE without WHERE, GRANT, COPY ... TO PROGRAM, and statements that hold a
# destructive one (PREPARE ... AS DELETE, EXPLAIN ANALYZE DELETE, a function whose
# body drops the table). Each must come back as
# "blocked by policy rule <id>" with SQLSTATE 42501, the statement after it in the same
# session must run, and the table must still exist with all its rows and no grants,
# seen from that session, from a fresh session through the appliance and directly on
# the server. Look-alikes (a DROP inside a string or a comment, DELETE with WHERE)
# pass. pgbench -M extended and -M prepared then send DROP TABLE through the extended
# protocol (Parse/Bind/Execute) and must get the same error, and tests/tools/pg_extquery
# sends DROP TABLE and then a SELECT on one connection. tollgated's cmd_blocked
# counter must equal the number of blocked statements sent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init enforce-block
it_net_up
it_pg_start

extquery=$TG_ROOT/$TG_BUILD_DIR/tests/tools/pg_extquery
[[ -x $extquery ]] || it_die "pg_extquery not built ($extquery)"

# srv_psql [psql args]: psql as the test role straight to the server, from inside the
# server namespace (not through the appliance), bounded.
srv_psql() {
	PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 60)" ip netns exec "$TG_NS_SERVER" \
		"$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

# pg_extquery speaks md5, not SCRAM: store the test role's password as md5 (libpq's
# psql and pgbench do md5 as well).
tg_pg_admin "$IT_PG" -d postgres -c "SET password_encryption = 'md5'" \
	-c "ALTER ROLE $IT_USER PASSWORD '$IT_PASSWORD'" >/dev/null || it_die "md5 password for $IT_USER"

rows=10
# Owned by the test role: every blocked statement below would succeed on the server.
srv_psql -c "CREATE TABLE t (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO t SELECT i, 'value ' || i FROM generate_series(1, $rows) AS i" ||
	it_die "create table t directly on the server"

# Every statement is followed by a line "R <name> <ERROR> <SQLSTATE> [message]" (psql
# variables of the last query), so that the output is in order on stdout alone.
# A blocked statement is followed by "after-<name>", which must run.
sql=$IT_TMP/session.sql
cat >"$sql" <<'SQL'
\set QUIET 1
SELECT 'base', count(*) FROM t;
\echo R base :ERROR :SQLSTATE
DROP TABLE t;
\echo R drop :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-drop', count(*) FROM t;
\echo R after-drop :ERROR :SQLSTATE
dRoP /* x */ TaBlE t;
\echo R drop-mixed :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-drop-mixed', count(*) FROM t;
\echo R after-drop-mixed :ERROR :SQLSTATE
SELECT 'multi-first' AS first \; DROP TABLE t;
\echo R multi :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-multi', count(*) FROM t;
\echo R after-multi :ERROR :SQLSTATE
DO $$ BEGIN DROP TABLE t; END $$;
\echo R do :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-do', count(*) FROM t;
\echo R after-do :ERROR :SQLSTATE
TRUNCATE t;
\echo R truncate :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-truncate', count(*) FROM t;
\echo R after-truncate :ERROR :SQLSTATE
DELETE FROM t;
\echo R delete :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-delete', count(*) FROM t;
\echo R after-delete :ERROR :SQLSTATE
GRANT ALL ON t TO PUBLIC;
\echo R grant :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-grant', count(*) FROM t;
\echo R after-grant :ERROR :SQLSTATE
COPY t TO PROGRAM 'true';
\echo R copy-program :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-copy-program', count(*) FROM t;
\echo R after-copy-program :ERROR :SQLSTATE
PREPARE del AS DELETE FROM t;
\echo R prepare-delete :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-prepare-delete', count(*) FROM t;
\echo R after-prepare-delete :ERROR :SQLSTATE
EXPLAIN ANALYZE DELETE FROM t;
\echo R explain-delete :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-explain-delete', count(*) FROM t;
\echo R after-explain-delete :ERROR :SQLSTATE
EXPLAIN (ANALYZE, "costs" 0) DELETE FROM t;
\echo R explain-quoted :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-explain-quoted', count(*) FROM t;
\echo R after-explain-quoted :ERROR :SQLSTATE
CREATE FUNCTION tg_drop_t() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE t; END $$;
\echo R function-drop :ERROR :SQLSTATE :LAST_ERROR_MESSAGE
SELECT 'after-function-drop', count(*) FROM t;
\echo R after-function-drop :ERROR :SQLSTATE
EXPLAIN DELETE FROM t;
\echo R explain-plan :ERROR :SQLSTATE
EXPLAIN (ANALYZE 0, COSTS off) DELETE FROM t;
\echo R explain-analyze-0 :ERROR :SQLSTATE
SELECT 'DROP TABLE t' AS in_string;
\echo R in-string :ERROR :SQLSTATE
SELECT 'comment-first' AS first \;
-- DROP TABLE t
SELECT 'comment-second', current_query() LIKE '%-- DROP TABLE t%SELECT%' AS comment_was_sent;
\echo R comment :ERROR :SQLSTATE
DELETE FROM t WHERE id = 1;
\echo R delete-where :ERROR :SQLSTATE
SELECT 'select-all', count(*), min(id), max(id) FROM (SELECT * FROM t) AS s;
\echo R select-all :ERROR :SQLSTATE
SELECT 'final', count(*), (SELECT relacl IS NULL FROM pg_class WHERE oid = 't'::regclass) FROM t;
\echo R final :ERROR :SQLSTATE
SQL

# name|rule of each statement the session sends that must be blocked
blocked=(drop\|sql.drop-table drop-mixed\|sql.drop-table multi\|sql.drop-table
	do\|sql.drop-table truncate\|sql.truncate delete\|sql.delete-without-where
	grant\|priv.grant copy-program\|exfil.copy-program
	prepare-delete\|sql.delete-without-where explain-delete\|sql.delete-without-where
	explain-quoted\|sql.delete-without-where
	function-drop\|sql.drop-table)
n_blocked=0

it_dut_start appliance

out=$IT_TMP/session.out
rc=0
it_psql -v ON_ERROR_STOP=0 -At -f "$sql" >"$out" 2>"$IT_TMP/session.err" || rc=$?
it_check "psql session through the appliance ran to its end (status $rc)" \
	bash -c "[[ $rc -eq 0 ]] && grep -qx 'R final false 00000' '$out'"

# status_of <name>: the "R <name> ..." line's fields after the name
status_of() {
	sed -n "s/^R $1 //p" "$out" | head -n 1
}

for entry in "${blocked[@]}"; do
	name=${entry%%|*} rule=${entry#*|}
	n_blocked=$((n_blocked + 1))
	st=$(status_of "$name")
	if [[ $st == "true 42501 blocked by policy rule $rule:"* ]]; then
		it_pass "$name: blocked with SQLSTATE 42501 by $rule"
	else
		it_fail "$name: want 'true 42501 blocked by policy rule $rule: ...', got '$st'"
	fi
	# the statement after it runs, and the table still has every row
	if [[ $(status_of "after-$name") == 'false 00000' ]] &&
		grep -qx "after-$name|$rows" "$out"; then
		it_pass "$name: the next statement in the session runs (t has its $rows rows)"
	else
		it_fail "$name: the next statement failed or t lost rows: '$(grep "after-$name" "$out" | tr '\n' ' ')'"
	fi
done
it_check "multi: the whole query was removed (its SELECT 'multi-first' returned nothing)" \
	bash -c "! grep -q 'multi-first' '$out'"
it_check "SELECT 'DROP TABLE t' (a string) is not blocked" \
	bash -c "grep -qx 'DROP TABLE t' '$out' && grep -qx 'R in-string false 00000' '$out'"
it_check "a statement starting with the comment -- DROP TABLE t is not blocked (and reached the server)" \
	bash -c "grep -qx 'comment-second|t' '$out' && grep -qx 'R comment false 00000' '$out'"
it_check "DELETE FROM t WHERE id = 1 is not blocked" grep -qx 'R delete-where false 00000' "$out"
it_check "EXPLAIN DELETE FROM t (a plan: nothing runs) is not blocked" \
	grep -qx 'R explain-plan false 00000' "$out"
it_check "EXPLAIN (ANALYZE 0) DELETE FROM t (ANALYZE off: nothing runs) is not blocked" \
	grep -qx 'R explain-analyze-0 false 00000' "$out"
it_check "SELECT * FROM t is not blocked (rows 2..$rows)" \
	bash -c "grep -qx 'select-all|$((rows - 1))|2|$rows' '$out' && grep -qx 'R select-all false 00000' '$out'"
it_check "in the same session at the end: t exists with $((rows - 1)) rows and no grants" \
	grep -qx "final|$((rows - 1))|t" "$out"
# one R line for the base query, two per blocked statement, seven for the rest
if [[ $(grep -c '^R ' "$out") -ne $((1 + 2 * ${#blocked[@]} + 7)) ]]; then
	it_log "session output:"
	sed 's/^/    /' "$out" "$IT_TMP/session.err" >&2
fi

# The same comment case with psql -c, which sends the text exactly as written.
v=$(it_psql -Atc $'-- DROP TABLE t\nSELECT \'comment-c\'' 2>&1) || true
it_check "psql -c '-- DROP TABLE t<newline>SELECT ...' is not blocked" [ "$v" == comment-c ]

v=$(it_psql -Atc "SELECT count(*), (SELECT relacl IS NULL FROM pg_class WHERE oid = 't'::regclass) FROM t" 2>&1) || true
it_check "fresh session through the appliance: t exists with $((rows - 1)) rows, no grants ('$v')" \
	[ "$v" == "$((rows - 1))|t" ]

# The extended protocol: pgbench sends Parse/Bind/Execute/Sync (-M extended) or a
# named Parse first (-M prepared). pgbench aborts its client on the error.
printf 'DROP TABLE t;\n' >"$IT_TMP/drop.sql"
for mode in extended prepared; do
	rc=0
	it_pgbench -n -M "$mode" -f "$IT_TMP/drop.sql" -t 1 -c 1 >"$IT_TMP/pgbench.$mode.out" 2>&1 || rc=$?
	n_blocked=$((n_blocked + 1))
	if grep -q 'blocked by policy rule sql.drop-table' "$IT_TMP/pgbench.$mode.out"; then
		it_pass "pgbench -M $mode: DROP TABLE answered 'blocked by policy rule sql.drop-table' (status $rc)"
	else
		it_fail "pgbench -M $mode: no error naming sql.drop-table (status $rc):"
		tail -n 10 "$IT_TMP/pgbench.$mode.out" | sed 's/^/    /'
	fi
	v=$(it_psql -Atc "SELECT count(*) FROM t" 2>&1) || true
	it_check "pgbench -M $mode: t still exists afterwards ($v rows)" [ "$v" == "$((rows - 1))" ]
done

# ext_refused <sql> <tag> <error> <what>: pg_extquery runs <sql> (Parse/Bind/Describe/
# Execute/Sync), then a SELECT tagged <tag>, on one connection: the first must get
# ERROR 42501 <error> and the session go on, the second return its row.
ext_refused() {
	local sql=$1 tag=$2 err=$3 what=$4 out=$IT_TMP/ext.$2.out rc=0 want
	it_client "$extquery" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" \
		"$sql" "SELECT '$tag', count(*) FROM t" >"$out" 2>&1 || rc=$?
	want=$(printf '%s\n' 'READY I' "ERROR 42501 $err" 'READY I' 'COLUMNS ?column?|count' \
		"ROW $tag|$((rows - 1))" 'COMPLETE SELECT 1' 'READY I')
	if [[ $rc -eq 0 && $(cat "$out") == "$want" ]]; then
		it_pass "pg_extquery: $what, the next statement on the connection runs"
	else
		it_fail "pg_extquery: status $rc, want the error then the SELECT's row ($what), got:"
		sed 's/^/    | /' "$out" | cut -c1-200 | head -n 20
	fi
}

# One extended-protocol session that goes on after the block.
ext_refused "DROP TABLE t" after-ext \
	'blocked by policy rule sql.drop-table: dropping tables is not allowed' \
	"DROP TABLE t blocked by sql.drop-table"
n_blocked=$((n_blocked + 1))

# Statements the appliance cannot judge are refused (dataplane.unjudged = "block", the
# default), so that no padding smuggles a statement past the rules. Before, both went
# through unjudged and dropped the table.
n_unjudged=0
# psql_refused <what> <tag> <output>: psql's <output> has the refusal, then the row of
# the SELECT tagged <tag> that followed in the same session.
psql_refused() {
	it_check "$1: refused as not judged, the session goes on" grep -q "statement not judged" <<<"$3"
	it_check "... and the next statement in the session runs (t has its $((rows - 1)) rows)" \
		grep -qx "$2|$((rows - 1))" <<<"$3"
}
# (a) more statements than the lexer's buffers take, then DROP TABLE t, in one Query
{
	for ((i = 0; i < 8000; i++)); do printf 'SELECT 1;'; done
	printf ' DROP TABLE t;'
} >"$IT_TMP/many.sql"
v=$(it_psql -v ON_ERROR_STOP=0 -Atc "$(cat "$IT_TMP/many.sql")" -c "SELECT 'after-many', count(*) FROM t" 2>&1) || true
n_unjudged=$((n_unjudged + 1))
psql_refused "8000 statements then DROP TABLE t in one Query" after-many "$v"
# (b) DROP TABLE t behind 300 kB of comment (over max_hold_bytes, 256 KiB), then a SELECT
{
	printf '/* '
	head -c 300000 /dev/zero | tr '\0' 'x'
	printf ' */ DROP TABLE t;\nSELECT '"'"'after-big'"'"', count(*) FROM t;\n'
} >"$IT_TMP/big.sql"
v=$(it_psql -v ON_ERROR_STOP=0 -At -f "$IT_TMP/big.sql" 2>&1) || true
n_unjudged=$((n_unjudged + 1))
psql_refused "DROP TABLE t behind a 300 kB comment" after-big "$v"
# (c) the same through the extended protocol (a 300 kB Parse)
head -n 1 "$IT_TMP/big.sql" | sed 's/;$//' >"$IT_TMP/big-parse.sql"
ext_refused "@$IT_TMP/big-parse.sql" after-ext-big \
	'statement not judged: larger than the appliance can inspect (refused by policy)' \
	"a 300 kB Parse of DROP TABLE t refused as not judged"
n_unjudged=$((n_unjudged + 1))

# FunctionCall names a function by OID, not by SQL. One of a built-in function is
# judged as the SELECT that calls it: pg_read_file (OID 3826) is blocked by the
# exfiltration pack like SELECT pg_read_file(...). One of a user function (OID only the
# database knows) cannot be judged and is refused: tg_drop_t2() drops a table, and the
# FunctionCall would have run it (the control at the end). Before, every FunctionCall
# went to the server unjudged.
ext_refused "fn:3826:/etc/hostname" after-fn-read \
	'blocked by policy rule exfil.pg-read-file: reading server files is not allowed' \
	"FunctionCall of pg_read_file blocked by exfil.pg-read-file"
n_blocked=$((n_blocked + 1))
srv_psql -c "CREATE TABLE t2 (id int)" \
	-c "CREATE FUNCTION tg_drop_t2() RETURNS void LANGUAGE sql AS 'DROP TABLE t2'" ||
	it_die "create t2 and tg_drop_t2() directly on the server"
fn_oid=$(srv_psql -Atc "SELECT 'tg_drop_t2'::regproc::oid") || it_die "OID of tg_drop_t2"
ext_refused "fn:$fn_oid:" after-fn-user \
	"function call not judged: function OID $fn_oid is not known (refused by policy)" \
	"FunctionCall of a user function (OID $fn_oid) refused as not judged"
n_unjudged=$((n_unjudged + 1))
v=$(srv_psql -Atc "SELECT to_regclass('t2') IS NOT NULL") || true
it_check "t2 still exists after the refused FunctionCall ($v)" [ "$v" == t ]

# Replication connections (dataplane.replication = "refuse", the default): their
# stream (WAL, base backups, decoded changes) carries the database's contents that no
# rule reads. The role may replicate (the control directly on the server runs
# IDENTIFY_SYSTEM); through the appliance both kinds of start-up are refused.
tg_pg_admin "$IT_PG" -d postgres -c "ALTER ROLE $IT_USER REPLICATION" >/dev/null ||
	it_die "REPLICATION for $IT_USER"
n_repl=0
for repl in database true; do
	v=$(it_client "$IT_PGBIN/psql" -X -At "$IT_URI&replication=$repl" -c "IDENTIFY_SYSTEM" 2>&1) || true
	n_repl=$((n_repl + 1))
	it_check "replication=$repl start-up refused: FATAL naming dataplane.replication" \
		grep -q 'FATAL:  replication connections are refused by policy (dataplane.replication)' <<<"$v"
done
v=$(it_psql -Atc "SELECT 'after-repl', count(*) FROM t" 2>&1) || true
it_check "an ordinary session goes on ($v)" [ "$v" == "after-repl|$((rows - 1))" ]

it_dut_stop
log=$IT_TMP/tollgated.$IT_TG_RUN.log
v=$(it_counter_sum "$log" pg_replication_refused) || v=none
it_check "tollgated counted pg_replication_refused $v, the $n_repl start-ups sent" [ "$v" == "$n_repl" ]
v=$(it_counter_sum "$log" cmd_blocked) || v=none
it_check "tollgated counted cmd_blocked $v, the $n_blocked blocked statements sent" [ "$v" == "$n_blocked" ]
# per port (issue 2): every statement came from the client side
v=$(it_port_counter "$log" client cmd_blocked)
it_check "cmd_blocked counted on port client: $v (port server: $(it_port_counter "$log" server cmd_blocked))" \
	bash -c "[[ $v == $n_blocked && $(it_port_counter "$log" server cmd_blocked) == 0 ]]"
v=$(it_port_counter "$log" client rx_pkts)
it_check "rx_pkts counted on both ports (client $v, server $(it_port_counter "$log" server rx_pkts))" \
	bash -c "[[ $v -gt 0 && $(it_port_counter "$log" server rx_pkts) -gt 0 ]]"
v=$(it_counter_sum "$log" cmd_unjudged_blocked) || v=none
it_check "tollgated counted cmd_unjudged_blocked $v, the $n_unjudged statements it could not judge" \
	[ "$v" == "$n_unjudged" ]
v=$(it_counter_sum "$log" cmd_unjudged) || v=none
it_check "tollgated forwarded no statement unjudged (cmd_unjudged $v)" [ "$v" == 0 ]

# Directly on the server: the table is intact, and the role could have dropped it,
# so that the checks above prove the appliance, not a missing privilege.
v=$(srv_psql -Atc "SELECT count(*), (SELECT relacl IS NULL FROM pg_class WHERE oid = 't'::regclass) FROM t" 2>&1) || true
it_check "directly on the server: t exists with $((rows - 1)) rows and no grants ('$v')" [ "$v" == "$((rows - 1))|t" ]
it_check "control: the same DROP TABLE t directly on the server succeeds" srv_psql -c "DROP TABLE t"
v=$(timeout -k 5 "$(it_left 30)" ip netns exec "$TG_NS_SERVER" "$extquery" "$TG_IP_SERVER" 5432 \
	"$IT_USER" "$IT_DB" "$IT_PASSWORD" "fn:$fn_oid:" 2>&1) || true
v2=$(srv_psql -Atc "SELECT to_regclass('t2') IS NULL") || true
it_check "control: the same FunctionCall directly on the server runs tg_drop_t2() (t2 gone: $v2)" \
	[ "$v2" == t ]
v=$(PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 30)" ip netns exec "$TG_NS_SERVER" \
	"$IT_PGBIN/psql" -X -At "$IT_URI&replication=database" -c "IDENTIFY_SYSTEM" 2>&1) || true
it_check "control: directly on the server the role opens a replication=database session (IDENTIFY_SYSTEM: $v)" \
	grep -q "^[0-9]*|1|" <<<"$v"

it_finish
