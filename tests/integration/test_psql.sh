#!/usr/bin/env bash
# test_psql.sh - psql sessions through tollgated print exactly what they print through the kernel bridge.
#
# One PostgreSQL server, the same scripted sessions run twice in this one run: once
# with the kernel bridge joining the veths, once with tollgated. Each session's output
# (stdout and stderr) must be identical. The sessions cover the simple query protocol
# with many result types, multi-packet results and statements, errors and notices,
# transactions, COPY in both directions and multi-statement queries. None of the data
# looks like a card number, an SSN or an e-mail address, so no masking rule applies.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init psql
it_net_up
it_pg_start

sql=$IT_TMP/session.sql
cat >"$sql" <<'SQL'
\set ON_ERROR_STOP 0
\pset pager off
SELECT 1 AS one, 'two'::text AS two, 3.25::numeric AS three, true AS yes, NULL AS nothing;
SELECT ARRAY[1, 2, 3] AS arr, '{"a": [1, 2, {"b": null}]}'::jsonb AS doc, '\xdeadbeef'::bytea AS raw;
SELECT '2024-02-29 13:14:15+00'::timestamptz AT TIME ZONE 'UTC' AS ts, interval '1 day 02:03:04' AS iv;
SELECT 'grüße, ünïcödé ✓' AS utf8, E'tab\there' AS esc, $q$dollar 'quoted'$q$ AS dq;
SELECT i, 'row-' || i AS label, repeat(chr(97 + i % 26), i % 50) AS pad
  FROM generate_series(1, 2000) AS i;
SELECT count(*), sum(i), max(length(repeat('z', i))) FROM generate_series(1, 5000) AS i;
SELECT length(repeat('abcdefgh', 20000)) AS big_value_len, md5(repeat('abcdefgh', 20000)) AS big_value_md5;
SELECT repeat('w', 70000) AS wide_field;
CREATE TEMP TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int DEFAULT 0);
INSERT INTO items SELECT i, 'item ' || i, i % 7 FROM generate_series(1, 300) AS i;
UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
DELETE FROM items WHERE id > 290;
SELECT qty, count(*) FROM items GROUP BY qty ORDER BY qty;
COPY items (id, name, qty) FROM STDIN;
1001	copied one	1
1002	copied two	2
1003	copied three	3
\.
SELECT * FROM items WHERE id > 1000 ORDER BY id;
COPY (SELECT * FROM items ORDER BY id LIMIT 20) TO STDOUT WITH (FORMAT csv, HEADER);
SELECT 1 / 0;
SELECT * FROM no_such_table;
SELEC broken syntax;
INSERT INTO items VALUES (1, 'duplicate');
BEGIN;
INSERT INTO items VALUES (2000, 'rolled back');
SAVEPOINT s1;
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO items VALUES (2001, 'after savepoint');
ROLLBACK;
SELECT count(*) FROM items WHERE id >= 2000;
DO $$ BEGIN RAISE NOTICE 'notice from the server: %', 42; END $$;
DO $$ BEGIN RAISE WARNING 'warning from the server'; END $$;
PREPARE byid (int) AS SELECT id, name FROM items WHERE id = $1;
EXECUTE byid(7);
EXECUTE byid(1002);
DEALLOCATE byid;
SELECT 'end of session' AS done;
SQL

# Statements of many segments: 100 kB (held whole before it is judged) and 300 kB
# (over the default max_hold_bytes of 256 KiB: it cannot be judged, and with the rule
# packs in force the appliance refuses it, dataplane.unjudged = "block").
for size in 100000 300000; do
	{
		printf "SELECT length(q), md5(q) FROM (SELECT '"
		head -c "$size" /dev/zero | tr '\0' 'q'
		printf "'::text AS q) AS s;\n"
	} >"$IT_TMP/stmt$size.sql"
done

# A large object, in and out with psql's client-side \lo_import and \lo_export: libpq
# sends lo_creat, lo_open, lowrite, loread and lo_close as FunctionCall messages, which
# the appliance judges as the SELECTs that call the same functions (none is refused).
for ((i = 0; i < 5000; i++)); do printf 'large object line %d\n' "$i"; done >"$IT_TMP/lo.in"

multi="SELECT 'first' AS a; SELECT 2 AS b, 'second' AS c; SELECT 1/0; SELECT 'not reached'"

# Runs every session through the current path; output in $IT_TMP/<dut>.<name>.out.
run_sessions() {
	local dut=$1
	# The exit status is part of the output (124: cut off by the time limit).
	it_psql -v ON_ERROR_STOP=0 -f "$sql" >"$IT_TMP/$dut.script.out" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.script.out"
	it_psql -v ON_ERROR_STOP=0 -c "$multi" >"$IT_TMP/$dut.multi.out" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.multi.out"
	it_psql -f "$IT_TMP/stmt100000.sql" >"$IT_TMP/$dut.big.out" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.big.out"
	it_psql -f "$IT_TMP/stmt300000.sql" >"$IT_TMP/$dut.huge.out" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.huge.out"
	it_psql -Atc "SELECT current_user, current_database(), inet_server_addr()" \
		>"$IT_TMP/$dut.ident.out" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.ident.out"
	local lo
	lo=$(it_psql -Atc "\\lo_import $IT_TMP/lo.in" 2>&1) || true
	lo=${lo#lo_import }
	it_psql -Atc "\\lo_export $lo $IT_TMP/$dut.lo.out" -c "\\lo_unlink $lo" \
		>"$IT_TMP/$dut.lo.log" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.lo.log"
	# Several short sessions back to back: handshakes and teardowns.
	local i
	for ((i = 0; i < 20; i++)); do
		it_psql -Atc "SELECT $i * 3" 2>&1 || echo "[exit $?]"
	done >"$IT_TMP/$dut.short.out"
}

it_dut_start bridge
run_sessions bridge
it_dut_stop

it_dut_start appliance
run_sessions appliance
it_dut_stop

# The reference must itself be sane, or the comparison proves nothing.
it_check "bridge reference is a full session" grep -q 'end of session' "$IT_TMP/bridge.script.out"
it_check "bridge reference has errors and notices" \
	grep -q 'division by zero' "$IT_TMP/bridge.script.out"
# The 300 kB statement: answered through the bridge, refused through the appliance (and
# the session it ran in ended normally).
it_check "bridge: the 300 kB statement ran (length 300000)" grep -q '^ *300000 |' "$IT_TMP/bridge.huge.out"
it_check "appliance: the 300 kB statement was refused as not judged" \
	grep -q 'ERROR:  statement not judged: larger than the appliance can inspect' "$IT_TMP/appliance.huge.out"
for dut in bridge appliance; do
	it_check "$dut: a $(wc -c <"$IT_TMP/lo.in")-byte large object came back whole from \\lo_import and \\lo_export" \
		cmp -s "$IT_TMP/lo.in" "$IT_TMP/$dut.lo.out"
done
for name in script multi big ident short; do
	if cmp -s "$IT_TMP/bridge.$name.out" "$IT_TMP/appliance.$name.out"; then
		it_pass "$name session identical through the appliance and the bridge ($(wc -c <"$IT_TMP/bridge.$name.out") bytes)"
	else
		it_fail "$name session differs through the appliance (diff bridge appliance):"
		diff "$IT_TMP/bridge.$name.out" "$IT_TMP/appliance.$name.out" | head -n 30 | sed 's/^/    /' || true
	fi
done

it_finish
