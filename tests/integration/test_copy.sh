#!/usr/bin/env bash
# test_copy.sh - bulk COPY through tollgated is byte-identical to the same COPY through the kernel bridge.
#
# Download: `COPY (SELECT ... generate_series ...) TO STDOUT` of more than 10 MB; its
# SHA-256 through the appliance must equal the one through the bridge, in this run.
# Upload: the same bytes go back with COPY FROM STDIN through each path, and the
# server's digest of the table must match too. The rows hold no digit runs, card
# numbers or addresses that a masking rule could touch, and no statement is one that
# the demo's rule packs block (no DROP: each path gets its own table).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init copy
it_net_up
it_pg_start

rows=160000
query="COPY (SELECT i, 'row-' || i AS label, repeat(chr(97 + i % 26), 40 + i % 23) AS pad, (i % 2 = 0) AS even FROM generate_series(1, $rows) AS i) TO STDOUT"
digest_sql="SELECT count(*), md5(string_agg(i || ':' || label || ':' || pad || ':' || even, ',' ORDER BY i))"

# copy_run <dut>: download to a file, upload it again, record digests. A failing
# step's message ends with psql's exit status (124: cut off by the time limit).
copy_run() {
	local dut=$1 out=$IT_TMP/$1.copy rc=0
	it_psql -c "$query" >"$out" 2>"$IT_TMP/$dut.copy.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		it_fail "COPY TO STDOUT through the $dut failed (psql exit $rc):"
		tail -n 10 "$IT_TMP/$dut.copy.err" | sed 's/^/    /'
		return
	fi
	sha256sum <"$out" | cut -d' ' -f1 >"$IT_TMP/$dut.sha"
	it_psql -q -c "CREATE TABLE up_$dut (i int, label text, pad text, even bool)" \
		-c "\\copy up_$dut FROM '$out'" >"$IT_TMP/$dut.up.err" 2>&1 || rc=$?
	if [[ $rc -eq 0 ]]; then
		it_psql -Atc "$digest_sql FROM up_$dut" >"$IT_TMP/$dut.updigest" 2>>"$IT_TMP/$dut.up.err" || rc=$?
	fi
	if [[ $rc -ne 0 ]]; then
		it_fail "COPY FROM STDIN through the $dut failed (psql exit $rc):"
		tail -n 10 "$IT_TMP/$dut.up.err" | sed 's/^/    /'
	fi
}

it_dut_start bridge
copy_run bridge
it_dut_stop

it_dut_start appliance
copy_run appliance
it_dut_stop

size=$(stat -c %s "$IT_TMP/bridge.copy" 2>/dev/null || echo 0)
lines=$(wc -l <"$IT_TMP/bridge.copy" 2>/dev/null || echo 0)
if [[ $size -ge 10000000 && $lines -eq $rows ]]; then
	it_pass "bridge reference COPY is $size bytes, $lines rows"
else
	it_fail "bridge reference COPY is $size bytes, $lines rows (want >= 10000000 bytes, $rows rows)"
fi
b=$(cat "$IT_TMP/bridge.sha" 2>/dev/null || echo none)
a=$(cat "$IT_TMP/appliance.sha" 2>/dev/null || echo missing)
if [[ $a == "$b" ]]; then
	it_pass "COPY TO STDOUT sha256 identical through the appliance and the bridge ($a)"
else
	it_fail "COPY TO STDOUT sha256 differs: bridge $b, appliance $a ($(stat -c %s "$IT_TMP/appliance.copy" 2>/dev/null || echo 0) bytes)"
	cmp "$IT_TMP/bridge.copy" "$IT_TMP/appliance.copy" 2>&1 | head -n 1 | sed 's/^/    /' || true
fi
b=$(cat "$IT_TMP/bridge.updigest" 2>/dev/null || echo none)
a=$(cat "$IT_TMP/appliance.updigest" 2>/dev/null || echo missing)
if [[ $a == "$b" && $b == "$rows|"* ]]; then
	it_pass "COPY FROM STDIN stored identical tables through the appliance and the bridge ($a)"
else
	it_fail "COPY FROM STDIN digests differ: bridge '$b', appliance '$a'"
fi

it_finish
