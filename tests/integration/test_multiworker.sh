#!/usr/bin/env bash
# test_multiworker.sh - two workers on af_packet ports, which have no RSS: flows are spread in software, and every session is inspected whole by the worker that owns it.
#
# tollgated runs the demo configuration (four rule packs) with two workers and each
# af_packet port given two queue pairs (qpairs=2): the kernel's PACKET_FANOUT spreads
# the frames over the two queues, and each worker passes the segments of flows it
# does not own to their owner (dataplane/handoff.h, soft_handoff). Through it:
#   - 24 psql sessions, one after the other (each its own client port, so its own
#     owner): DROP TABLE is blocked with the rule's error, the session's next
#     statement runs, and card numbers come back masked;
#   - pgbench -S with -M simple, extended and prepared (4 clients), and with -C (a new
#     connection a transaction, 200 connections): every transaction processed, none
#     failed;
#   - COPY of pgbench_accounts (about 10 MB) is byte-identical to the same COPY run
#     directly on the server;
#   - then, from tollgated's exit report: both workers created flows, segments were
#     handed between them (soft_handoff > 0), at most 1 % dropped for a full ring
#     (soft_handoff_full), none dropped for want of a flow (drop_no_flow = 0), and
#     cmd_blocked equals the statements blocked, and each worker had sleeps that a
#     frame ended (adaptive polling waking on its af_packet socket or handoff eventfd).
# The table still exists, with all its rows, seen directly on the server.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init multiworker
it_net_up
it_pg_start

# srv [command...]: a PostgreSQL client straight to the server, from inside the server
# namespace (not through the appliance), bounded.
srv() {
	PGPASSWORD=$IT_PASSWORD PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 120)" \
		ip netns exec "$TG_NS_SERVER" "$@"
}

srv "$IT_PGBIN/pgbench" -h "$TG_IP_SERVER" -p 5432 -U "$IT_USER" -i -s 1 -q "$IT_DB" \
	>"$IT_TMP/init.out" 2>&1 || { tail -n 15 "$IT_TMP/init.out" >&2; it_die "pgbench -i on the server"; }
srv "$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" <<'SQL' || it_die "create table cards on the server"
CREATE TABLE cards (id int PRIMARY KEY, card text);
INSERT INTO cards VALUES (1, '4111 1111 1111 1111'), (2, '5500 0000 0000 0004');
SQL

# The two-worker configuration: the test's copy of the demo configuration (paths made
# absolute, this run's interfaces), each port with two queue pairs, two workers, and
# an lcore list that puts the main lcore and the workers on the CPUs this process may
# use (tollgated asks for one when there are fewer CPUs than lcores).
base=$(it_tg_conf) || it_die "no tollgated config"
cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
first=${cpus%%[-,]*}
last=${cpus##*[-,]}
sed -e 's/\(iface=[A-Za-z0-9_-]*\)"/\1,qpairs=2"/' \
	-e 's/^\([[:space:]]*count[[:space:]]*=[[:space:]]*\)1;.*/\12;/' \
	-e "s/\\(\"--file-prefix=[A-Za-z0-9_-]*\"\\) *\\]/\\1, \"--lcores\", \"0@$first,1@$first,2@$last\" ]/" \
	"$base" >"$IT_TMP/multiworker.conf"
for want in 'qpairs=2"' 'count = 2;' '"--lcores"'; do
	grep -qF -- "$want" "$IT_TMP/multiworker.conf" || it_die "two-worker config: no $want in it"
done
TG_IT_CONF=$IT_TMP/multiworker.conf

it_dut_start appliance
log=$IT_TMP/tollgated.$IT_TG_RUN.log
it_check "tollgated spreads flows in software over its two workers (log)" \
	grep -q 'flows are spread in software' "$log"

# 24 sessions: each blocked DROP, the statement after it, a masked card.
sessions=24 ok=0
for ((i = 1; i <= sessions; i++)); do
	out=$(it_psql -v ON_ERROR_STOP=0 -At <<'SQL' 2>&1
DROP TABLE cards;
SELECT 'after', count(*) FROM cards;
SELECT card FROM cards ORDER BY id;
SQL
	) || true
	want=$'ERROR:  blocked by policy rule sql.drop-table: '
	if [[ $out == *"$want"* && $out == *$'after|2\n**** **** **** 1111\n**** **** **** 0004'* ]]; then
		ok=$((ok + 1))
	else
		it_log "session $i: $out"
	fi
done
it_check "$sessions sessions: DROP TABLE blocked, the next statement ran, cards masked ($ok/$sessions)" \
	[ "$ok" -eq "$sessions" ]

# run_bench <name> <want> [pgbench args]: one select-only run; checks its summary.
run_bench() {
	local name=$1 want=$2 out=$IT_TMP/bench.$1.out rc=0 processed failed
	shift 2
	IT_CMD_TIMEOUT=120 it_pgbench -n -S "$@" >"$out" 2>&1 || rc=$?
	processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/.*/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	if [[ $rc -eq 0 && ${processed:-0} -eq $want && ${failed:-x} == 0 ]]; then
		it_pass "pgbench -S $* through two workers: $processed/$want transactions, 0 failed"
	else
		it_fail "pgbench -S $* through two workers: status $rc, processed ${processed:-?}/$want, failed ${failed:-?}:"
		tail -n 15 "$out" | sed 's/^/    /'
	fi
}
for mode in simple extended prepared; do
	run_bench "$mode" 2000 -M "$mode" -c 4 -j 2 -t 500
done
run_bench connect 200 -C -c 2 -j 2 -t 100

# COPY through the appliance against the same COPY on the server
copy="COPY pgbench_accounts TO STDOUT"
it_psql -c "$copy" >"$IT_TMP/copy.tg" 2>"$IT_TMP/copy.tg.err" || it_log "COPY through tollgated failed: $(tail -n 3 "$IT_TMP/copy.tg.err")"
srv "$IT_PGBIN/psql" -X -v ON_ERROR_STOP=1 "$IT_URI" -c "$copy" >"$IT_TMP/copy.srv" || it_die "COPY on the server"
a=$(sha256sum <"$IT_TMP/copy.tg" | cut -d' ' -f1)
b=$(sha256sum <"$IT_TMP/copy.srv" | cut -d' ' -f1)
size=$(stat -c %s "$IT_TMP/copy.srv")
it_check "COPY pgbench_accounts ($size bytes) through two workers is byte-identical to the server's" \
	[ "$a" == "$b" -a "$size" -gt 9000000 ]

it_dut_stop

# worker <w> <name>: counter <name> of worker w<w> in the exit report
worker() {
	awk -v w="w$1" -v n="$2" '$1 == w && $2 == n { print $3; f = 1 } END { if (!f) print 0 }' "$log"
}
w0=$(worker 0 flow_created) w1=$(worker 1 flow_created)
it_check "both workers own flows (flow_created: w0 $w0, w1 $w1)" [ "$w0" -gt 0 -a "$w1" -gt 0 ]
v=$(it_counter_sum "$log" soft_handoff)
it_check "segments passed to their flow's owner (soft_handoff $v)" [ "$v" -gt 0 ]
# A full ring drops (the sender retransmits, the COPY above stays whole): on a quiet
# machine none; a stalled owner (two workers, the main lcore, PostgreSQL and the
# clients share two CPUs here, under ASan too) may cost a few, not more than 1 %.
full=$(it_counter_sum "$log" soft_handoff_full)
it_check "soft_handoff_full $full is at most 1 % of soft_handoff $v" [ $((full * 100)) -le "$v" ]
v=$(it_counter_sum "$log" drop_no_flow)
it_check "drop_no_flow is 0 ($v)" [ "$v" -eq 0 ]
v=$(it_counter_sum "$log" cmd_blocked)
it_check "cmd_blocked $v equals the $sessions statements blocked" [ "$v" -eq "$sessions" ]
# adaptive polling: each worker slept between the sessions above and was woken by a
# frame (its own queue's socket, or a frame handed over), not by the end of a sleep
for w in 0 1; do
	v=$(sed -n "s/.*worker $w stopped: .* \([0-9]*\) ended by a frame.*/\1/p" "$log")
	it_check "worker $w: sleeps ended by a frame (${v:-none})" [ "${v:-0}" -gt 0 ]
done
rows=$(srv "$IT_PGBIN/psql" -X -At "$IT_URI" -c 'SELECT count(*) FROM cards' 2>&1) || true
it_check "table cards still holds its 2 rows on the server ($rows)" [ "$rows" == 2 ]

it_finish
