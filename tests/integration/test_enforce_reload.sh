#!/usr/bin/env bash
# test_enforce_reload.sh - pgbench through tollgated with the rule packs loses no transaction while SIGHUP reloads the rules, and a broken rule file on reload keeps the rules in force.
#
# pgbench -i runs directly on the server (the destructive pack blocks its DROP and
# TRUNCATE, by design). Through tollgated with the demo configuration and its four
# packs: pgbench -n -S -c 2 -T 10 with -M simple, extended and prepared, each with 0
# failed transactions; during the extended run tollgated gets SIGHUP twice (by its pid
# file) and must log two new policy versions in force. Then the configuration is
# pointed at a copy of the packs with one rule broken, and SIGHUP: the error must be
# logged with the file and line, and the old rules stay in force (DROP TABLE and
# TRUNCATE are still blocked). With the file repaired, a last SIGHUP puts a new policy
# in force. At exit, every drop_* counter, tx_drop_full, mbuf_alloc_fail and
# tcp_memcap_reset must be 0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init enforce-reload

# The SIGHUP sender runs in the background: end it on every exit path, by its pid.
HUP_PID=
enf_cleanup() {
	local rc=$?
	set +e
	if [[ -n $HUP_PID ]]; then
		kill "$HUP_PID" 2>/dev/null || true
		wait "$HUP_PID" 2>/dev/null || true
	fi
	(exit "$rc") # it_cleanup takes the exit status from $?
	it_cleanup
}
trap enf_cleanup EXIT

it_net_up
it_pg_start

# srv_psql [psql args]: psql as the test role straight to the server, from inside the
# server namespace (not through the appliance), bounded.
srv_psql() {
	PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 60)" ip netns exec "$TG_NS_SERVER" \
		"$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

PGPASSWORD=$IT_PASSWORD PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 90)" \
	ip netns exec "$TG_NS_SERVER" "$IT_PGBIN/pgbench" -i -s 1 -q \
	-h "$TG_IP_SERVER" -p 5432 -U "$IT_USER" "$IT_DB" >"$IT_TMP/init.out" 2>&1 || {
	tail -n 10 "$IT_TMP/init.out" >&2
	it_die "pgbench -i directly on the server"
}
srv_psql -c "CREATE TABLE t (id int PRIMARY KEY)" -c "INSERT INTO t SELECT generate_series(1, 3)" ||
	it_die "create table t directly on the server"

it_dut_start appliance
log=$IT_TMP/tollgated.$IT_TG_RUN.log
conf=$IT_TMP/tollgated.conf

# hup_now: SIGHUP to the tollgated named by its pid file, when that is the one this
# script started. Returns non-zero when it could not be sent.
hup_now() {
	local pid
	pid=$(cat "$IT_TMP/tollgated.pid" 2>/dev/null) || return 1
	[[ $pid == "$IT_TG_PID" ]] || return 1
	kill -HUP "$pid" 2>/dev/null || return 1
	echo "[$IT_NAME] SIGHUP sent to tollgated $pid" >&2
}

# hup_after <seconds>...: hup_now after each delay.
hup_after() {
	local d
	for d in "$@"; do
		sleep "$d"
		hup_now || return 1
	done
}

# in_force: the "policy N: ... in force" lines of the log, one per reload
in_force() {
	grep -o 'policy [0-9]*: [0-9]* rules (set [0-9a-f]*) in force' "$log" || true
}

# wait_log <pattern> <count>: waits (at most 15 s) until the log has <count> lines
# matching <pattern>.
wait_log() {
	local i
	for ((i = 0; i < 150; i++)); do
		[[ $(grep -c -- "$1" "$log" || true) -ge $2 ]] && return 0
		sleep 0.1
	done
	return 1
}

first=$(grep -o 'policy [0-9]*: [0-9]* rules from' "$log" | head -n 1 | awk '{ print $2 }') || true
first=${first%:}

# run_bench <mode>: pgbench -S for 10 s; PASS when it ran and failed nothing.
export IT_CMD_TIMEOUT=40
run_bench() {
	local mode=$1 out=$IT_TMP/bench.$1.out rc=0 processed failed
	it_pgbench -n -S -M "$mode" -c 2 -j 2 -T 10 >"$out" 2>&1 || rc=$?
	processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	if [[ $rc -eq 0 && ${processed:-0} -gt 0 && ${failed:-x} == 0 ]]; then
		it_pass "pgbench -n -S -M $mode -c 2 -T 10 with the packs$2: $processed transactions, 0 failed ($(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1) tps)"
	else
		it_fail "pgbench -n -S -M $mode$2: status $rc, processed ${processed:-?}, failed ${failed:-?}:"
		tail -n 12 "$out" | sed 's/^/    /'
	fi
}

run_bench simple ""
hup_after 3 3 &
HUP_PID=$!
run_bench extended ", two SIGHUP reloads during the run"
wait "$HUP_PID" || it_fail "SIGHUP during the extended run: tollgated's pid file did not name the tollgated started"
HUP_PID=
run_bench prepared ""

if wait_log 'rules (set [0-9a-f]*) in force' 2; then
	mapfile -t lines < <(in_force)
	v1=$(awk '{ print $2 }' <<<"${lines[0]}")
	v2=$(awk '{ print $2 }' <<<"${lines[1]}")
	v1=${v1%:} v2=${v2%:}
	if [[ ${#lines[@]} -eq 2 && $v1 -gt ${first:-0} && $v2 -gt $v1 ]]; then
		it_pass "two SIGHUPs: the log shows policies $v1 and $v2 in force (after $first at start)"
	else
		it_fail "two SIGHUPs: policy versions not increasing: start ${first:-?}, then ${lines[*]}"
	fi
else
	it_fail "two SIGHUPs: the log does not show two new policies in force:"
	grep '"rules"' "$log" | tail -n 5 | sed 's/^/    /'
fi

# A broken rule file: point the configuration at a copy of the packs, break one rule.
mkdir "$IT_TMP/packs"
cp "$TG_ROOT"/rules/packs/*.conf "$IT_TMP/packs/"
sed -i -E "s|\"[^\"]*/rules/packs/([a-z]+\\.conf)\"|\"$IT_TMP/packs/\\1\"|g" "$conf"
if [[ $(grep -o "\"$IT_TMP/packs/[a-z]*\.conf\"" "$conf" | wc -l) -ne 4 ]]; then
	it_fail "could not point the configuration at the copied packs"
fi
broken=$IT_TMP/packs/destructive.conf
cp "$broken" "$IT_TMP/destructive.good"
sed -i 's/patterns = \[ "^TRUNCATE/pattern = [ "^TRUNCATE/' "$broken"
line=$(grep -n 'pattern = \[ "^TRUNCATE' "$broken" | cut -d: -f1) || true
[[ -n $line ]] || it_die "could not break the copy of destructive.conf"
n_force=$(in_force | wc -l)
hup_now || it_fail "SIGHUP: tollgated's pid file did not name the tollgated started"
if wait_log 'reload failed' 1; then
	if grep -qF "$broken:$line: rule sql.truncate: unknown setting" "$log"; then
		it_pass "broken rule file: the error is logged with file and line ($(grep -oF "$broken:$line:" "$log" | head -n 1))"
	else
		it_fail "broken rule file: no error naming $broken:$line in the log:"
		grep '"rules"' "$log" | tail -n 3 | sed 's/^/    /'
	fi
else
	it_fail "broken rule file: no 'reload failed' in the log within 15 s"
fi
it_check "broken rule file: no new policy was put in force" [ "$(in_force | wc -l)" -eq "$n_force" ]
v=$(it_psql -v ON_ERROR_STOP=0 -c "DROP TABLE t" 2>&1) || true
it_check "broken rule file: the old rules stay in force (DROP TABLE t still blocked)" \
	grep -q 'blocked by policy rule sql.drop-table' <<<"$v"
v=$(it_psql -v ON_ERROR_STOP=0 -c "TRUNCATE t" 2>&1) || true
it_check "broken rule file: the old rules stay in force (TRUNCATE t still blocked, the broken rule is not half-loaded)" \
	grep -q 'blocked by policy rule sql.truncate' <<<"$v"
v=$(it_psql -Atc "SELECT count(*) FROM t" 2>&1) || true
it_check "t still exists with its 3 rows ('$v')" [ "$v" == 3 ]

# Repaired: the next SIGHUP puts the copied packs in force.
cp "$IT_TMP/destructive.good" "$broken"
hup_now || it_fail "SIGHUP: tollgated's pid file did not name the tollgated started"
if wait_log 'rules (set [0-9a-f]*) in force' $((n_force + 1)); then
	it_pass "repaired rule file: SIGHUP puts a new policy in force ($(in_force | tail -n 1 | cut -d: -f1))"
else
	it_fail "repaired rule file: no new policy in force within 15 s"
fi
v=$(it_psql -v ON_ERROR_STOP=0 -c "TRUNCATE t" 2>&1) || true
it_check "repaired rule file: TRUNCATE t blocked by the reloaded rules" \
	grep -q 'blocked by policy rule sql.truncate' <<<"$v"

it_dut_stop
bad=()
for name in $(awk '/^total:/ { t = 1; next } t && /^  [a-z_]+ +[0-9]+$/ { print $1 }' "$log" | grep '^drop_' || true) \
	tx_drop_full mbuf_alloc_fail tcp_memcap_reset; do
	v=$(it_counter_sum "$log" "$name") || v=none
	[[ $v == 0 ]] || bad+=("$name=$v")
done
if [[ ${#bad[@]} -eq 0 ]]; then
	it_pass "exit counters: every drop_*, tx_drop_full, mbuf_alloc_fail and tcp_memcap_reset is 0"
else
	it_fail "exit counters not 0: ${bad[*]}"
fi

it_finish
