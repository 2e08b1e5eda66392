#!/usr/bin/env bash
# test_pgbench.sh - pgbench through tollgated: initialise, then the simple, extended and prepared protocols with no failed transaction.
#
# Through the appliance: `pgbench -i -s 2` (DDL and a 200,000-row COPY), then
# `pgbench -S -t 2000 -c 2` with -M simple, extended and prepared. Each run must
# process every transaction and report 0 failed ones. The same select-only runs go
# through the kernel bridge in the same script run, for a side-by-side TPS figure.
# tollgated runs the demo configuration without its rule packs: `pgbench -i` drops
# and truncates tables, which the destructive pack blocks (as it should).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init pgbench
it_net_up
it_pg_start

clients=2
tx=2000
want=$((clients * tx))
export IT_CMD_TIMEOUT=120 # per pgbench run; a few seconds on an idle 2-core machine
declare -A tps

# run_bench <dut> <mode>: one select-only run; checks its summary.
run_bench() {
	local dut=$1 mode=$2 out=$IT_TMP/$1.$2.out rc=0
	it_pgbench -n -S -M "$mode" -t "$tx" -c "$clients" -j "$clients" >"$out" 2>&1 || rc=$?
	local processed failed
	processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/.*/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	tps[$dut.$mode]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out")
	if [[ $rc -eq 0 && ${processed:-0} -eq $want && ${failed:-x} == 0 ]]; then
		it_pass "pgbench -S -M $mode -t $tx -c $clients through the $dut: $processed/$want transactions, 0 failed"
	else
		it_fail "pgbench -S -M $mode through the $dut: status $rc, processed ${processed:-?}/$want, failed ${failed:-?}:"
		tail -n 15 "$out" | sed 's/^/    /'
	fi
}

IT_RULES=0
it_dut_start appliance
if it_pgbench -i -s 2 -q >"$IT_TMP/init.out" 2>&1; then
	rows=$(it_psql -Atc 'SELECT count(*) FROM pgbench_accounts' 2>&1) || true
	if [[ $rows == 200000 ]]; then
		it_pass "pgbench -i -s 2 through the appliance (200000 accounts)"
	else
		it_fail "pgbench -i -s 2 through the appliance: pgbench_accounts has '$rows' rows"
	fi
else
	it_fail "pgbench -i -s 2 through the appliance failed:"
	tail -n 15 "$IT_TMP/init.out" | sed 's/^/    /'
fi
for mode in simple extended prepared; do
	run_bench appliance "$mode"
done
it_dut_stop

it_dut_start bridge
for mode in simple extended prepared; do
	run_bench bridge "$mode"
done
it_dut_stop

for mode in simple extended prepared; do
	it_log "tps -M $mode: appliance ${tps[appliance.$mode]:-?}, bridge ${tps[bridge.$mode]:-?}"
done

it_finish
