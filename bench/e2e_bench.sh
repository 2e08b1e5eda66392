#!/usr/bin/env bash
# e2e_bench.sh - pgbench through tollgated, through dpdk-testpmd io-forwarding and through the kernel bridge, side by side in one run.
#
#   sudo bench/e2e_bench.sh [options]
#
# One network of namespaces (appliance/netns.sh, prefix tgbn): ns tgbn-client
# (198.18.0.1) -- tgbn-veth-c | DUT | tgbn-veth-s -- ns tgbn-server (198.18.0.2), with a
# fresh PostgreSQL cluster in tgbn-server. `pgbench -i -s SCALE` runs once inside the
# server namespace; then, for each device under test (DUT) in turn, the two veths are
# joined by it and `pgbench -n -S -M prepared -c CLIENTS -j THREADS -T SECONDS` runs from
# the client namespace (`--mix tpcb`: pgbench's read-write TPC-B-like script instead of
# -S):
#
#   appliance       build/appliance/tollgated, appliance/demo.conf with this run's
#                   interface names (two net_af_packet ports, one worker, adaptive polling)
#   appliance-busy  the same with busy polling (the like-for-like match for testpmd)
#   testpmd         dpdk-testpmd --forward-mode=io on the same two net_af_packet ports and
#                   the same two lcores: the I/O ceiling of af_packet on veths
#   bridge          the Linux bridge (tg_net_bridge_on)
#
# Every DUT gets a short warm-up run first. TPS and latency (average, stddev from
# pgbench; p50/p95/p99 from its per-transaction log) are printed side by side, with the
# ratios to testpmd, and written as JSON. On a 2-core machine, a busy-polling DUT
# (testpmd, appliance-busy) takes a core away from pgbench and PostgreSQL: that cost is
# part of what this measures (DESIGN.md §12).
#
# Options:
#   --seconds N       length of each measured run (20)
#   --scale N         pgbench -i scale (10)
#   --clients N       pgbench -c (4)
#   --threads N       pgbench -j (2)
#   --duts LIST       comma-separated DUTs, in order (appliance,appliance-busy,testpmd,bridge)
#   --rounds N        run the whole DUT list N times; the table shows medians (1)
#   --json FILE       also write the results here (default: run/e2e_bench.json)
#   --no-latency-log  skip pgbench -l (no percentiles; a little less client work)
#   --mix select|tpcb select: point selects (-S, default); tpcb: pgbench's built-in
#                     read-write script (three UPDATEs, a SELECT and an INSERT in a
#                     transaction), which exercises the decoder on writes and COMMIT
#
# Environment: TG_BUILD_DIR (default build), TG_TOLLGATED (default
# $TG_BUILD_DIR/appliance/tollgated), TG_E2E_CONF (default appliance/demo.conf),
# TG_E2E_KEEP=1 keeps the temp dir (logs). Cleanup runs on every exit path: it kills
# only the pids this script started, removes only what its state file lists.
set -euo pipefail

TG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TG_NS_PREFIX=tgbn
# shellcheck source-path=SCRIPTDIR source=../appliance/netns.sh
source "$TG_ROOT/appliance/netns.sh"

seconds=20
scale=10
clients=4
threads=2
duts=appliance,appliance-busy,testpmd,bridge
rounds=1
json_out=$TG_ROOT/run/e2e_bench.json
latlog=1
mix=select
build_dir=${TG_BUILD_DIR:-build}
tollgated=${TG_TOLLGATED:-$TG_ROOT/$build_dir/appliance/tollgated}
conf_src=${TG_E2E_CONF:-$TG_ROOT/appliance/demo.conf}
db=bench
db_user=bench
db_password=bench-pw

say() { echo "e2e: $*" >&2; }
die() {
	echo "e2e: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--scale) scale=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--duts) duts=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--json) json_out=$2; shift 2 ;;
	--no-latency-log) latlog=0; shift ;;
	--mix) mix=$2; shift 2 ;;
	-h | --help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
case $mix in
select) pgb_script=(-S) ;;
tpcb) pgb_script=(-b tpcb-like) ;;
*) die "--mix must be select or tpcb" ;;
esac
for v in seconds scale clients threads rounds; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer"
done
IFS=, read -r -a dut_list <<<"$duts"
for d in "${dut_list[@]}"; do
	case $d in
	appliance | appliance-busy | testpmd | bridge) ;;
	*) die "unknown DUT '$d' (appliance, appliance-busy, testpmd, bridge)" ;;
	esac
done

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces): sudo $0"
for d in "${dut_list[@]}"; do
	case $d in
	appliance*) [[ -x $tollgated ]] || die "no $tollgated (build it, or set TG_BUILD_DIR / TG_TOLLGATED)" ;;
	testpmd) command -v dpdk-testpmd >/dev/null || die "no dpdk-testpmd (apt-get install dpdk)" ;;
	esac
done
command -v jq >/dev/null || die "no jq (apt-get install jq)"
pgbin=$(tg_pg_bindir) || die "no PostgreSQL server binaries"
[[ -x $pgbin/pgbench ]] || die "no $pgbin/pgbench"

# ---- state and cleanup ----

TMP=$(mktemp -d /tmp/tg-e2e.XXXXXX)
chmod 755 "$TMP" # postgres must reach its cluster below it
export TG_NET_STATE=$TMP/net.state
tg_net_names
PG_BASE=$TMP/pg
DUT_PID=        # tollgated or testpmd we started, while it runs
DUT_NAME=       # its command name, to check the pid is still ours
DUT_MODE=       # the DUT joining the veths now
CHILD_PID=      # a long client command running in the background (run_bg)
PG_STARTED=0

# Stops the DUT: SIGTERM, at most 20 s, then SIGKILL; by pid only.
dut_kill() {
	local pid=$DUT_PID name=$DUT_NAME i
	DUT_PID=
	[[ -n $pid ]] || return 0
	if tg_pid_alive "$pid" "$name"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 200; i++)); do
			tg_pid_alive "$pid" "$name" || break
			sleep 0.1
		done
		if tg_pid_alive "$pid" "$name"; then
			say "$name $pid ignored SIGTERM for 20 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

dut_stop() {
	case $DUT_MODE in
	bridge) tg_net_bridge_off ;;
	appliance* | testpmd) dut_kill ;;
	esac
	DUT_MODE=
}

# Stops the command run_bg is waiting for (a `timeout`, which passes the signal on to
# pgbench), at most 10 s.
child_kill() {
	local pid=$CHILD_PID i
	CHILD_PID=
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	child_kill
	dut_stop
	[[ $PG_STARTED -eq 1 ]] && tg_pg_stop "$PG_BASE"
	tg_net_down || say "cleanup: could not remove every link or namespace in $TG_NET_STATE"
	if [[ ${TG_E2E_KEEP:-0} == 1 ]]; then
		say "kept $TMP"
	else
		rm -rf -- "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ----

# run_bg <command...>: runs a long command in the background and waits for it. Bash runs
# a trap only once the foreground command has ended (and ignores SIGINT when that
# command did not die of it); `wait` is interrupted at once, so Ctrl-C and SIGTERM stop
# the bench now, and cleanup stops the command. Returns the command's status.
run_bg() {
	local rc=0
	"$@" &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=
	return "$rc"
}

# Runs a command in the client namespace, bounded by <limit> seconds.
in_client() {
	local limit=$1
	shift
	timeout --kill-after=5 "$limit" ip netns exec "$TG_NS_CLIENT" "$@"
}

uri="postgresql://$db_user:$db_password@$TG_IP_SERVER:5432/$db?connect_timeout=2"

# Waits (at most 45 s) until a query answers through the DUT.
wait_path() {
	local i
	for ((i = 0; i < 90; i++)); do
		if [[ -n $DUT_PID ]] && ! tg_pid_alive "$DUT_PID" "$DUT_NAME"; then
			say "$DUT_NAME exited while waiting for the path"
			return 1
		fi
		if [[ $(in_client 5 "$pgbin/psql" -X -Atc 'SELECT 1' "$uri" 2>/dev/null) == 1 ]]; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# tollgated's config: <src> with this run's interface names, its own DPDK file prefix,
# <poll> polling, paths relative to <src> made absolute (the copy lives in $TMP), the
# rule cache and the recordings in $TMP, and no management API (the demo's port may be
# in use; the bench needs none).
tg_conf() {
	local poll=$1 out=$TMP/tollgated-$1.conf srcdir
	srcdir=$(cd "$(dirname "$conf_src")" && pwd)
	sed -e "s/tg-veth-c/$TG_VETH_C/g" -e "s/tg-veth-s/$TG_VETH_S/g" \
		-e "s#\"\\.\\./#\"$srcdir/../#g" -e "s#\"\\./#\"$srcdir/#g" \
		-e "s#cache_dir *= *\"[^\"]*\"#cache_dir = \"$TMP/hscache\"#" \
		-e "/^recorder *= *{/,/^};/ s#dir *= *\"[^\"]*\"#dir = \"$TMP/recordings\"#" \
		-e "/^management *= *{/,/^};/ s#listen *= *\"[^\"]*\"#listen = \"\"#" \
		-e "/^management *= *{/,/^};/ s#state_dir *= *\"[^\"]*\"#state_dir = \"$TMP\"#" \
		-e "s/--file-prefix[= ]*[A-Za-z0-9_-]*/--file-prefix=$TG_NS_PREFIX/g" \
		-e "s/\"--file-prefix\", *\"[A-Za-z0-9_-]*\"/\"--file-prefix\", \"$TG_NS_PREFIX\"/g" \
		-e "s/poll *= *\"[a-z]*\"/poll = \"$poll\"/" \
		"$conf_src" >"$out" || return 1
	grep -q "poll = \"$poll\"" "$out" || return 1
	echo "$out"
}

# dut_start <dut> <log>: joins the veths by <dut> and waits for the path.
dut_start() {
	local dut=$1 log=$2 conf
	case $dut in
	appliance | appliance-busy)
		local poll=adaptive
		[[ $dut == appliance-busy ]] && poll=busy
		conf=$(tg_conf "$poll") || die "cannot write the tollgated config from $conf_src"
		"$tollgated" -c "$conf" --pidfile "$TMP/tollgated.pid" >"$log" 2>&1 </dev/null &
		DUT_PID=$! DUT_NAME=tollgated
		;;
	testpmd)
		# --stats-period keeps it running without a terminal (it would exit on EOF
		# otherwise) until SIGTERM; -l 0-1: the same two lcores as tollgated (main +
		# one forwarding core, which busy-polls).
		# stdbuf: its statistics are printed on the way out, and a full stdio buffer
		# would be lost when it re-raises SIGTERM
		stdbuf -oL -eL dpdk-testpmd -l 0-1 --no-huge --no-pci -m 512 --file-prefix="$TG_NS_PREFIX-pmd" \
			--vdev="net_af_packet0,iface=$TG_VETH_C" --vdev="net_af_packet1,iface=$TG_VETH_S" \
			-- --forward-mode=io --auto-start --no-mlockall --stats-period 3600 \
			--total-num-mbufs=16384 >"$log" 2>&1 </dev/null &
		DUT_PID=$! DUT_NAME=dpdk-testpmd
		;;
	bridge)
		tg_net_bridge_on || die "cannot add the bridge"
		;;
	esac
	DUT_MODE=$dut
	# $! is our forked shell until it has exec'd the DUT: wait (bounded) until the pid
	# shows the DUT's command line, so that the checks by name below are meaningful
	if [[ -n $DUT_PID ]]; then
		local i
		for ((i = 0; i < 50; i++)); do
			tg_pid_alive "$DUT_PID" "$DUT_NAME" && break
			kill -0 "$DUT_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	if ! wait_path; then
		tail -n 20 "$log" >&2 2>/dev/null || true
		die "no PostgreSQL session through $dut within 45 s"
	fi
}

# pgbench_ns <namespace> <limit> [pgbench args]: pgbench in <namespace>, bounded by
# <limit> seconds, through run_bg (env execs timeout: $! is the timeout process).
pgbench_ns() {
	local ns=$1 limit=$2
	shift 2
	run_bg env PGPASSWORD="$db_password" PGCONNECT_TIMEOUT=5 timeout --kill-after=5 "$limit" \
		ip netns exec "$ns" "$pgbin/pgbench" -h "$TG_IP_SERVER" -p 5432 -U "$db_user" "$@" "$db"
}

# Percentiles (ms) of the latencies (us, 3rd field) in pgbench's per-transaction logs.
latency_pcts() {
	local prefix=$1
	cat "$prefix".* 2>/dev/null | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "null null null"; exit }
			split("50 95 99", q, " ")
			for (i = 1; i <= 3; i++) {
				k = int(NR * q[i] / 100); if (k < 1) k = 1
				printf "%.3f%s", v[k] / 1000, i < 3 ? " " : "\n"
			}
		}'
}

# Largest "<name> <number>" in tollgated's exit counter report: the report prints each
# counter per worker and in total, so the largest is the total (and 0 means none).
counter_max() {
	awk -v n="$2" '
		{ for (i = 1; i < NF; i++) {
			f = $i; sub(/:$/, "", f); sub(/^.*[:=]/, "", f)
			v = $(i + 1); sub(/[,}"]+$/, "", v)
			if (f == n && v ~ /^[0-9]+$/ && v + 0 > m) m = v + 0
		} }
		END { print m + 0 }' "$1"
}

# ---- set-up ----

say "temp dir $TMP; network $TG_NS_CLIENT ($TG_IP_CLIENT) -- $TG_VETH_C | DUT | $TG_VETH_S -- $TG_NS_SERVER ($TG_IP_SERVER)"
tg_net_up appliance || die "network set-up failed"
tg_pg_init "$PG_BASE" "pg-$RANDOM$RANDOM" fsync=off synchronous_commit=off full_page_writes=off \
	|| die "initdb failed"
PG_STARTED=1
tg_pg_start "$PG_BASE" || die "postgres did not start"
tg_pg_admin "$PG_BASE" -d postgres \
	-c "CREATE ROLE $db_user LOGIN PASSWORD '$db_password'" \
	-c "CREATE DATABASE $db OWNER $db_user" >/dev/null || die "cannot create the bench database"
say "pgbench -i -s $scale (inside $TG_NS_SERVER, no DUT)"
pgbench_ns "$TG_NS_SERVER" 900 -i -s "$scale" -q >"$TMP/init.log" 2>&1 ||
	{ tail -n 20 "$TMP/init.log" >&2; die "pgbench -i failed"; }
# warm the server's caches once, without any DUT in the path
pgbench_ns "$TG_NS_SERVER" 60 -S -M prepared -c "$clients" -j "$threads" -T 5 \
	>"$TMP/warm-server.log" 2>&1 || die "warm-up inside the server namespace failed"

# ---- runs ----

declare -A R_TPS R_LAT R_STD R_P50 R_P95 R_P99 R_NOTE
limit=$((seconds + 60))
for ((round = 1; round <= rounds; round++)); do
	for dut in "${dut_list[@]}"; do
		key=$dut.$round
		log=$TMP/$dut.$round.dut.log
		say "round $round: $dut"
		dut_start "$dut" "$log"
		# -n: no VACUUM / TRUNCATE before the run (done once after -i), so that every
		# DUT sees the same statements (tollgated's rule packs block TRUNCATE)
		pgbench_ns "$TG_NS_CLIENT" 60 -n "${pgb_script[@]}" -M prepared -c "$clients" -j "$threads" -T 3 >"$TMP/$key.warm.out" 2>&1 ||
			{ tail -n 10 "$TMP/$key.warm.out" >&2; die "warm-up through $dut failed"; }
		out=$TMP/$key.out
		lat=()
		[[ $latlog -eq 1 ]] && lat=(-l --log-prefix="$TMP/lat.$key")
		rc=0
		pgbench_ns "$TG_NS_CLIENT" "$limit" -n "${pgb_script[@]}" -M prepared -c "$clients" -j "$threads" -T "$seconds" -P 5 \
			"${lat[@]}" >"$out" 2>&1 || rc=$?
		R_TPS[$key]=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out")
		R_LAT[$key]=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out")
		R_STD[$key]=$(sed -n 's/^latency stddev = \([0-9.]*\) ms.*/\1/p' "$out")
		failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
		if [[ $rc -ne 0 || -z ${R_TPS[$key]} || ${failed:-0} != 0 ]]; then
			tail -n 15 "$out" >&2
			die "pgbench through $dut: status $rc, failed transactions ${failed:-?}"
		fi
		if [[ $latlog -eq 1 ]]; then
			read -r "R_P50[$key]" "R_P95[$key]" "R_P99[$key]" < <(latency_pcts "$TMP/lat.$key")
			rm -f "$TMP/lat.$key".*
		else
			R_P50[$key]=null R_P95[$key]=null R_P99[$key]=null
		fi
		dut_stop
		note=
		case $dut in
		appliance*)
			bad=
			for c in drop_malformed drop_bad_cksum drop_out_of_window tx_drop_full \
				mbuf_alloc_fail tcp_memcap_reset; do
				v=$(counter_max "$log" "$c")
				[[ $v -eq 0 ]] || bad+=" $c=$v"
			done
			blocked=$(counter_max "$log" cmd_blocked)
			note="rx_pkts $(counter_max "$log" rx_pkts)"
			[[ $blocked -eq 0 ]] || note+=", cmd_blocked $blocked"
			note+=${bad:+, UNEXPECTED:$bad}
			;;
		testpmd)
			note="forwarded $(sed -n 's/.*TX-packets: *\([0-9]*\).*TX-dropped.*/\1/p' "$log" | tail -n 1) packets"
			;;
		esac
		R_NOTE[$key]=$note
		say "  $dut: tps ${R_TPS[$key]}, latency ${R_LAT[$key]} ms (stddev ${R_STD[$key]}), p99 ${R_P99[$key]} ms; $note"
	done
done

# ---- report ----

# median <values...>
median() {
	printf '%s\n' "$@" | grep -v '^null$' | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A M_TPS M_LAT M_STD M_P50 M_P95 M_P99
for dut in "${dut_list[@]}"; do
	for arr in TPS LAT STD P50 P95 P99; do
		declare -n src=R_$arr dst=M_$arr
		vals=()
		for ((round = 1; round <= rounds; round++)); do vals+=("${src[$dut.$round]}"); done
		# shellcheck disable=SC2034,SC2004 # dst is a name reference to M_<arr>
		dst[$dut]=$(median "${vals[@]}")
		unset -n src dst
	done
done

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "null" || b == "null" || b == 0) print "null"; else printf "%.3f\n", a / b }'
}

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
printf '\npgbench -n %s -M prepared -c %s -j %s -T %s, scale %s; %s round(s), medians; %s cores (%s)\n' \
	"${pgb_script[*]}" "$clients" "$threads" "$seconds" "$scale" "$rounds" "$(nproc)" "$cpu"
printf '%-15s %10s %10s %10s %9s %9s %9s %12s\n' DUT tps "lat ms" "stddev" p50 p95 p99 "tps/testpmd"
for dut in "${dut_list[@]}"; do
	printf '%-15s %10.0f %10s %10s %9s %9s %9s %12s\n' "$dut" "${M_TPS[$dut]}" "${M_LAT[$dut]}" \
		"${M_STD[$dut]}" "${M_P50[$dut]}" "${M_P95[$dut]}" "${M_P99[$dut]}" \
		"$(ratio "${M_TPS[$dut]}" "${M_TPS[testpmd]:-}")"
done
r_app=$(ratio "${M_TPS[appliance]:-}" "${M_TPS[testpmd]:-}")
r_busy=$(ratio "${M_TPS[appliance-busy]:-}" "${M_TPS[testpmd]:-}")
printf '\nratio appliance/testpmd (TPS): %s (adaptive), %s (busy); target >= 0.95\n' "$r_app" "$r_busy"

mkdir -p "$(dirname "$json_out")"
{
	for dut in "${dut_list[@]}"; do
		for ((round = 1; round <= rounds; round++)); do
			key=$dut.$round
			jq -n --arg dut "$dut" --argjson round "$round" --argjson tps "${R_TPS[$key]}" \
				--argjson lat "${R_LAT[$key]:-null}" --argjson std "${R_STD[$key]:-null}" \
				--argjson p50 "${R_P50[$key]}" --argjson p95 "${R_P95[$key]}" \
				--argjson p99 "${R_P99[$key]}" --arg note "${R_NOTE[$key]}" \
				'{dut: $dut, round: $round, tps: $tps, latency_avg_ms: $lat,
				  latency_stddev_ms: $std, p50_ms: $p50, p95_ms: $p95, p99_ms: $p99, note: $note}'
		done
	done
} | jq -s --arg cpu "$cpu" --argjson nproc "$(nproc)" --argjson seconds "$seconds" \
	--argjson scale "$scale" --argjson clients "$clients" --argjson threads "$threads" \
	--argjson rounds "$rounds" --argjson r_app "$r_app" --argjson r_busy "$r_busy" \
	--arg cmd "pgbench -n ${pgb_script[*]} -M prepared -c $clients -j $threads -T $seconds (scale $scale)" \
	'{machine: {nproc: $nproc, cpu: $cpu}, command: $cmd, rounds: $rounds,
	  params: {seconds: $seconds, scale: $scale, clients: $clients, threads: $threads},
	  runs: ., ratio_appliance_to_testpmd: {adaptive: $r_app, busy: $r_busy, target: 0.95}}' \
	>"$json_out"
say "results written to $json_out"
