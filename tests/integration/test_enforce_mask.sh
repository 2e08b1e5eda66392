#!/usr/bin/env bash
# test_enforce_mask.sh - the PII pack masks card numbers, SSNs and e-mail addresses in PostgreSQL results: the same through the simple and the extended protocol, in COPY, and in a result of more than 50 MB that arrives whole.
#
# tollgated runs the demo configuration with its four rule packs. A table holds
# valid-Luhn card numbers in three layouts, one with a bad check digit, a column named
# ssn, e-mail addresses and free text with numbers in it. Through the appliance:
#   - psql (simple protocol) shows exactly the expected masked rows: cards as
#     "**** **** **** 1111" (last four kept, layout kept), the bad one unchanged, the
#     ssn column masked whole by its name, e-mails with their first character kept;
#   - tests/tools/pg_extquery (Parse/Bind/Describe/Execute/Sync) shows the very same;
#   - a SELECT of more than 50 MB with a card in every row arrives complete: its row
#     count and SHA-256 equal those of the same query run directly on the server with
#     the masked value written in it;
#   - COPY (SELECT ...) TO STDOUT is masked the same way (checked the same way).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init enforce-mask
it_net_up
it_pg_start

extquery=$TG_ROOT/$TG_BUILD_DIR/tests/tools/pg_extquery
[[ -x $extquery ]] || it_die "pg_extquery not built ($extquery)"

# srv_psql [psql args]: psql as the test role straight to the server, from inside the
# server namespace (not through the appliance), bounded.
srv_psql() {
	PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 90)" ip netns exec "$TG_NS_SERVER" \
		"$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

# pg_extquery speaks md5, not SCRAM: store the test role's password as md5 (libpq's
# psql and pgbench do md5 as well).
tg_pg_admin "$IT_PG" -d postgres -c "SET password_encryption = 'md5'" \
	-c "ALTER ROLE $IT_USER PASSWORD '$IT_PASSWORD'" >/dev/null || it_die "md5 password for $IT_USER"

srv_psql <<'SQL' || it_die "create table cards directly on the server"
CREATE TABLE cards (id int PRIMARY KEY, card text, ssn text, email text, note text);
INSERT INTO cards VALUES
	(1, '4111 1111 1111 1111', '123-45-6789', 'jane.doe@example.com', 'paid with 4111-1111-1111-1111 today'),
	(2, '5500 0000 0000 0004', '219-09-9999', 'bob@mail.example.org', 'tax id 123-45-6789'),
	(3, '4111111111111111', '078-05-1120', 'x@y.io', 'ref 12345'),
	(4, '4111 1111 1111 1112', '000-12-3456', 'not an address', 'ticket 4111 1111 1111 1112');
SQL
query="SELECT id, card, ssn, email, note FROM cards ORDER BY id"
raw=$(
	cat <<'EOF'
1|4111 1111 1111 1111|123-45-6789|jane.doe@example.com|paid with 4111-1111-1111-1111 today
2|5500 0000 0000 0004|219-09-9999|bob@mail.example.org|tax id 123-45-6789
3|4111111111111111|078-05-1120|x@y.io|ref 12345
4|4111 1111 1111 1112|000-12-3456|not an address|ticket 4111 1111 1111 1112
EOF
)
masked=$(
	cat <<'EOF'
1|**** **** **** 1111|***-**-****|j***.***@*******.***|paid with ****-****-****-1111 today
2|**** **** **** 0004|***-**-****|b**@****.*******.***|tax id ***-**-6789
3|************1111|***-**-****|x@*.**|ref 12345
4|4111 1111 1111 1112|***-**-****|not an address|ticket 4111 1111 1111 1112
EOF
)

# The large result: about 228 bytes a row in psql's unaligned output, > 50 MB in all.
big_rows=230000
big_sql="SELECT g, '%s' AS card, repeat('x', 200) AS pad FROM generate_series(1, $big_rows) AS g"
copy_rows=100000
copy_sql="COPY (SELECT g, '%s' AS card, 'card of customer ' || g AS note FROM generate_series(1, $copy_rows) AS g) TO STDOUT"

# The references, directly on the server: the raw table, and the big results with
# the masked value written into the query.
v=$(srv_psql -At -F '|' -c "$query" 2>&1) || true
it_check "directly on the server the table holds the raw values" [ "$v" == "$raw" ]
# shellcheck disable=SC2059 # the queries are formats on purpose
srv_psql -At -c "$(printf "$big_sql" '**** **** **** 1111')" >"$IT_TMP/big.ref" ||
	it_die "big reference query on the server"
# shellcheck disable=SC2059
srv_psql -c "$(printf "$copy_sql" '**** **** **** 1111')" >"$IT_TMP/copy.ref" ||
	it_die "COPY reference on the server"

it_dut_start appliance

# Simple protocol (psql).
v=$(it_psql -At -F '|' -c "$query" 2>&1) || true
if [[ $v == "$masked" ]]; then
	it_pass "psql (simple protocol): cards, ssn column and e-mails masked exactly as expected, the bad-Luhn card left alone"
else
	it_fail "psql (simple protocol): masked rows differ (diff want got):"
	diff <(echo "$masked") <(echo "$v") | sed 's/^/    /' || true
fi

# Extended protocol (pg_extquery), with the very same query.
rc=0
it_client "$extquery" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" "$query" \
	>"$IT_TMP/ext.out" 2>&1 || rc=$?
ext=$(sed -n 's/^ROW //p' "$IT_TMP/ext.out")
if [[ $rc -eq 0 && $ext == "$masked" && $ext == "$v" ]] &&
	grep -qx 'COLUMNS id|card|ssn|email|note' "$IT_TMP/ext.out" &&
	grep -qx 'COMPLETE SELECT 4' "$IT_TMP/ext.out"; then
	it_pass "pg_extquery (extended protocol): the same masked rows as through psql"
else
	it_fail "pg_extquery (extended protocol): status $rc, rows differ from psql's (diff psql extended):"
	diff <(echo "$v") <(echo "$ext") | sed 's/^/    /' || true
	sed 's/^/    | /' "$IT_TMP/ext.out" | head -n 20
fi

# Binary results (what Npgsql asks for on every column): varchar and text values are
# their characters, and must be masked as in text (before, binary columns went
# unmasked). Without the int4 id, whose binary value is not text.
rc=0
it_client "$extquery" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" \
	"binary:SELECT card, ssn, email, note FROM cards ORDER BY id" >"$IT_TMP/bin.out" 2>&1 || rc=$?
bin=$(sed -n 's/^ROW //p' "$IT_TMP/bin.out")
want_bin=$(cut -d '|' -f 2- <<<"$masked")
if [[ $rc -eq 0 && $bin == "$want_bin" ]]; then
	it_pass "pg_extquery with binary results: cards, ssn column and e-mails masked as in text"
else
	it_fail "pg_extquery with binary results: status $rc, rows differ (diff want got):"
	diff <(echo "$want_bin") <(echo "$bin") | sed 's/^/    /' || true
fi

# A binary COPY OUT: no types are known, every field is scanned (before, binary COPY
# rows went unscanned).
rc=0
it_psql -c "COPY (SELECT card, email FROM cards ORDER BY id) TO STDOUT (FORMAT binary)" \
	>"$IT_TMP/bin.copy" 2>&1 || rc=$?
if [[ $rc -eq 0 ]] && grep -aq '\*\*\*\* \*\*\*\* \*\*\*\* 1111' "$IT_TMP/bin.copy" &&
	grep -aq 'j\*\*\*\.\*\*\*@' "$IT_TMP/bin.copy" && ! grep -aq '4111 1111 1111 1111' "$IT_TMP/bin.copy"; then
	it_pass "COPY ... (FORMAT binary): cards and e-mails masked in the binary rows"
else
	it_fail "COPY ... (FORMAT binary): status $rc, not masked as expected:"
	od -c "$IT_TMP/bin.copy" | head -n 12 | sed 's/^/    /'
fi

# A prepared statement run again with Bind and Execute only, as JDBC and pgx do: its
# rows come without a RowDescription. Before, they were masked with the columns of the
# statement before (id, ssn): the id was masked and the ssn column was not by name
# (000-12-3456, no valid SSN, went out in clear). The appliance now asks the server for
# the portal's columns itself.
rc=0
it_client "$extquery" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" \
	"prepare:s1:SELECT ssn, id FROM cards ORDER BY id" "SELECT id, ssn FROM cards ORDER BY id" \
	"exec:s1" >"$IT_TMP/exec.out" 2>&1 || rc=$?
got=$(sed -n '/^COMPLETE SELECT 4$/,$p' "$IT_TMP/exec.out" | sed -n 's/^ROW //p')
want_exec=$(printf '***-**-****|%s\n' 1 2 3 4)
# two RowDescriptions: the prepare's Describe and the SELECT's; none for the Execute
if [[ $rc -eq 0 && $got == "$want_exec" && $(grep -c '^COLUMNS' "$IT_TMP/exec.out") == 2 ]]; then
	it_pass "Execute without Describe: the ssn column masked by name, the id left alone, no RowDescription added for the client"
else
	it_fail "Execute without Describe: status $rc, rows not masked by their own columns:"
	sed 's/^/    | /' "$IT_TMP/exec.out" | head -n 20
fi

# Deep pipelining (pgbench's pipeline mode, prepared): 40 queries in flight, more
# requests than the decoder tracks. Each query's own Describe names its columns, so
# the ssn column is still masked by name; the session runs without an error.
{
	echo '\startpipeline'
	for ((i = 0; i < 40; i++)); do echo 'SELECT id, ssn FROM cards WHERE id = 4;'; done
	echo '\endpipeline'
} >"$IT_TMP/pipeline.sql"
rc=0
PGPASSWORD=$IT_PASSWORD it_client "$IT_PGBIN/pgbench" -h "$TG_IP_SERVER" -U "$IT_USER" -n \
	-M prepared -f "$IT_TMP/pipeline.sql" -t 5 -c 1 "$IT_DB" >"$IT_TMP/pipeline.out" 2>&1 || rc=$?
if [[ $rc -eq 0 ]] && grep -q 'number of failed transactions: 0' "$IT_TMP/pipeline.out"; then
	it_pass "pgbench pipeline of 40 prepared queries, 5 times: no failure"
else
	it_fail "pgbench pipeline: status $rc:"
	tail -n 10 "$IT_TMP/pipeline.out" | sed 's/^/    /'
fi

# Data quoted in errors, notices and notifications: a unique violation's detail, a
# failed cast, RAISE NOTICE and a NOTIFY payload. Before, these went out unmasked
# (and the error was recorded as it was) while the same card in a row was masked.
# (A 16-digit number cast to int fails as "value ... is out of range".)
srv_psql -c "CREATE UNIQUE INDEX cards_card ON cards (card)" >/dev/null ||
	it_die "unique index on cards.card directly on the server"
v=$(it_psql -v ON_ERROR_STOP=0 -c "INSERT INTO cards (id, card) VALUES (99, '4111 1111 1111 1111')" \
	-c "SELECT card::int FROM cards WHERE id = 3" \
	-c "DO \$\$ BEGIN RAISE NOTICE 'card %', (SELECT card FROM cards WHERE id = 1); END \$\$" \
	-c "LISTEN c" -c "SELECT pg_notify('c', card) FROM cards WHERE id = 3" 2>&1) || true
if grep -q 'Key (card)=(\*\*\*\* \*\*\*\* \*\*\*\* 1111) already exists' <<<"$v" &&
	grep -q 'value "\*\*\*\*\*\*\*\*\*\*\*\*1111" is out of range for type integer' <<<"$v" &&
	grep -q 'NOTICE:  card \*\*\*\* \*\*\*\* \*\*\*\* 1111' <<<"$v" &&
	grep -q 'with payload "\*\*\*\*\*\*\*\*\*\*\*\*1111"' <<<"$v" && ! grep -q '4111' <<<"$v"; then
	it_pass "cards quoted in an error detail, a cast error, a NOTICE and a NOTIFY payload arrive masked"
else
	it_fail "errors, notices or notifications not masked as expected:"
	sed 's/^/    | /' <<<"$v" | head -n 20
fi

# A FunctionCall's value (FunctionCallResponse): lo_get (OID 3458) returns a large
# object's bytes, raw in binary format. Before, it went out unscanned: SELECT lo_get()
# came back masked and the same call through a FunctionCall did not.
rc=0
lo=$(it_psql -Atc "SELECT lo_from_bytea(0, convert_to('card 4111 1111 1111 1111 of jane@example.com', 'UTF8'))" 2>&1) || rc=$?
it_client "$extquery" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" \
	"fnb:3458:$lo" >"$IT_TMP/fn.out" 2>&1 || rc=$?
if [[ $rc -eq 0 ]] && grep -qx 'FUNCTION card \*\*\*\* \*\*\*\* \*\*\*\* 1111 of j\*\*\*@\*\*\*\*\*\*\*\.\*\*\*' "$IT_TMP/fn.out"; then
	it_pass "FunctionCall lo_get (binary result): card and e-mail masked in the large object's bytes"
else
	it_fail "FunctionCall lo_get: status $rc (large object '$lo'), not masked as expected:"
	sed 's/^/    | /' "$IT_TMP/fn.out" | head -n 10
fi

# More than 50 MB with a card in every row.
start=$SECONDS
rc=0
# shellcheck disable=SC2059
IT_CMD_TIMEOUT=120 it_psql -At -c "$(printf "$big_sql" '4111 1111 1111 1111')" \
	>"$IT_TMP/big.out" 2>"$IT_TMP/big.err" || rc=$?
secs=$((SECONDS - start))
size=$(stat -c %s "$IT_TMP/big.out")
lines=$(wc -l <"$IT_TMP/big.out")
want=$(sha256sum <"$IT_TMP/big.ref" | cut -d' ' -f1)
got=$(sha256sum <"$IT_TMP/big.out" | cut -d' ' -f1)
if [[ $rc -eq 0 && $lines -eq $big_rows && $got == "$want" && $size -ge 50000000 ]]; then
	it_pass "$size-byte masked result arrived whole in ${secs} s: $lines rows, sha256 equals the server's with the masked value ($got)"
else
	it_fail "large masked result: status $rc, $size bytes, $lines/$big_rows rows, sha256 $got, want $want (>= 50000000 bytes):"
	tail -n 5 "$IT_TMP/big.err" | sed 's/^/    /'
	cmp "$IT_TMP/big.ref" "$IT_TMP/big.out" 2>&1 | head -n 1 | sed 's/^/    /' || true
fi

# COPY TO STDOUT (CopyData rows).
rc=0
# shellcheck disable=SC2059
IT_CMD_TIMEOUT=60 it_psql -c "$(printf "$copy_sql" '4111 1111 1111 1111')" \
	>"$IT_TMP/copy.out" 2>"$IT_TMP/copy.err" || rc=$?
lines=$(wc -l <"$IT_TMP/copy.out")
want=$(sha256sum <"$IT_TMP/copy.ref" | cut -d' ' -f1)
got=$(sha256sum <"$IT_TMP/copy.out" | cut -d' ' -f1)
if [[ $rc -eq 0 && $lines -eq $copy_rows && $got == "$want" ]]; then
	it_pass "COPY (SELECT ...) TO STDOUT masked: $lines rows, sha256 equals the server's with the masked value"
else
	it_fail "COPY TO STDOUT: status $rc, $lines/$copy_rows rows, sha256 $got, want $want:"
	tail -n 5 "$IT_TMP/copy.err" | sed 's/^/    /'
	diff "$IT_TMP/copy.ref" "$IT_TMP/copy.out" 2>&1 | head -n 4 | sed 's/^/    /' || true
fi

it_dut_stop
log=$IT_TMP/tollgated.$IT_TG_RUN.log
v=$(it_counter_sum "$log" fields_masked) || v=none
# 12 fields per run of the small table (psql, pg_extquery in text and in binary), 6 in
# the binary COPY (3 cards, 3 e-mails), 4 + 4 ssn in the run without Describe and the
# query before it, 200 ssn (by name) in the pipeline, 4 in the error, notice and
# notification messages, 1 in the FunctionCall's value (one field holding both), one per big
# row, one per COPY row
want=$((3 * 12 + 6 + 8 + 200 + 4 + 1 + big_rows + copy_rows))
it_check "tollgated counted fields_masked $v, want $want" [ "$v" == "$want" ]
v=$(it_counter_sum "$log" pg_requests_untracked) || v=none
it_check "the pipeline outran the request tracking (pg_requests_untracked $v)" [ "${v:-0}" -ge 1 ]
v=$(it_counter_sum "$log" pg_request_desync) || v=none
it_check "no server answer went unexplained (pg_request_desync $v)" [ "$v" == 0 ]
v=$(it_counter_sum "$log" pg_describe_injected) || v=none
it_check "one Describe added, for the Execute without one (pg_describe_injected $v)" [ "$v" == 1 ]

it_finish
