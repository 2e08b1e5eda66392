# shellcheck shell=bash
# lib.sh - harness for the integration tests: network, PostgreSQL, tollgated, cleanup (sourced).
#
# A test script does:
#
#   source "$(dirname "$0")/lib.sh"
#   it_init copy                  # temp dir, unique namespace prefix, cleanup trap
#   it_net_up                     # namespaces and veths, nothing joining them yet
#   it_pg_start                   # a fresh PostgreSQL cluster inside the server namespace
#   it_dut_start bridge           # the kernel bridge joins the veths ...
#   ... it_psql / it_client ...   # clients in the client namespace
#   it_dut_stop
#   it_dut_start appliance        # ... then tollgated does, over the very same server
#   ...
#   it_dut_stop                   # also checks tollgated's counters (one PASS/FAIL line)
#   it_finish                     # prints the script's tally, exits 0 or 1
#
# Results are lines "PASS: <test>: <what>" and "FAIL: <test>: <what>"; tests/run_all.sh
# counts them. Cleanup runs on every exit path: it kills only the pids this run
# started (tollgated, its postgres), removes only the namespaces and links listed in
# its state file, and deletes its temp dir.
#
# Environment:
#   TG_BUILD_DIR     build directory holding appliance/tollgated (default: build)
#   TG_TOLLGATED     the tollgated binary (default: $TG_BUILD_DIR/appliance/tollgated)
#   TG_IT_CONF       tollgated config to start from (default: appliance/demo.conf); its
#                    interface names tg-veth-c / tg-veth-s are rewritten to this run's
#   TG_IT_DUT        "appliance" (default) or "bridge": what stands in for the appliance
#                    when a test asks for it (bridge checks the harness without tollgated)
#   TG_IT_KEEP=1     keep the temp dir (logs) after the run
#   TG_IT_ARTIFACTS  a directory where a failing run leaves its logs and outputs
#   TG_IT_BUDGET     seconds the whole script may take (default 200): every client
#                    command's timeout is cut to what is left, so a stalled path ends
#                    the script in bounded time, with FAIL lines, and cleanup still runs
#   TG_IT_TAG        a tag for the test names ("psql[asan]"), when run_all.sh runs a
#                    script again with another tollgated (TG_TOLLGATED)

TG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../appliance/netns.sh
source "$TG_ROOT/appliance/netns.sh"

TG_BUILD_DIR=${TG_BUILD_DIR:-build}
TG_TOLLGATED=${TG_TOLLGATED:-$TG_ROOT/$TG_BUILD_DIR/appliance/tollgated}
TG_IT_CONF=${TG_IT_CONF:-$TG_ROOT/appliance/demo.conf}
TG_IT_DUT=${TG_IT_DUT:-appliance}

IT_PASS=0
IT_FAIL=0
IT_DB=tgtest
IT_USER=tgtest
IT_PASSWORD=tgtest-pw
IT_DUT_MODE=
IT_TG_PID=
IT_TG_RUN=0
IT_PGBIN=
IT_BUDGET=${TG_IT_BUDGET:-200}

it_log() {
	echo "[$IT_NAME] $*" >&2
}

it_pass() {
	IT_PASS=$((IT_PASS + 1))
	echo "PASS: $IT_NAME: $*"
}

it_fail() {
	IT_FAIL=$((IT_FAIL + 1))
	echo "FAIL: $IT_NAME: $*"
}

# it_check <what> <command...>: one PASS or FAIL line from the command's status.
it_check() {
	local what=$1
	shift
	if "$@"; then
		it_pass "$what"
	else
		it_fail "$what"
	fi
}

# Aborts the script: one FAIL line, then cleanup through the EXIT trap.
it_die() {
	it_fail "$*"
	exit 1
}

it_init() {
	IT_NAME=$1${TG_IT_TAG:+[$TG_IT_TAG]}
	if [[ $(id -u) -ne 0 ]]; then
		echo "FAIL: $IT_NAME: must run as root (network namespaces)"
		exit 1
	fi
	IT_TMP=$(mktemp -d "/tmp/tg-it-$1${TG_IT_TAG:+-$TG_IT_TAG}.XXXXXX")
	# postgres must reach its cluster below this directory
	chmod 755 "$IT_TMP"
	IT_DEADLINE=$((SECONDS + IT_BUDGET))
	trap it_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# "ti" + 6 hex digits: unique enough per run and within the 8 bytes netns.sh allows
	TG_NS_PREFIX=$(printf 'ti%06x' $(((RANDOM << 9 ^ RANDOM ^ $$) & 0xffffff)))
	TG_NET_STATE=$IT_TMP/net.state
	export TG_NS_PREFIX TG_NET_STATE
	tg_net_names || it_die "namespace names"
	IT_PG=$IT_TMP/pg
	IT_PGBIN=$(tg_pg_bindir) || it_die "no PostgreSQL binaries"
	IT_URI="postgresql://$IT_USER:$IT_PASSWORD@$TG_IP_SERVER:5432/$IT_DB?connect_timeout=5&application_name=tg-it"
	it_log "temp dir $IT_TMP, namespaces $TG_NS_CLIENT / $TG_NS_SERVER"
}

it_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [[ -n $IT_CLIENT_PID ]]; then
		# timeout(1) passes the TERM on to the client it runs
		kill -TERM "$IT_CLIENT_PID" 2>/dev/null
		wait "$IT_CLIENT_PID" 2>/dev/null
	fi
	it_tg_kill
	if [[ -n ${IT_PG:-} && -d $IT_PG ]]; then
		tg_pg_stop "$IT_PG"
	fi
	if [[ -n ${TG_NET_STATE:-} ]]; then
		tg_net_down || echo "[$IT_NAME] cleanup: could not remove every link or namespace" >&2
	fi
	if [[ -n ${IT_TMP:-} && -d $IT_TMP ]]; then
		# On failure, keep the logs and outputs (not the cluster) for whoever reads them.
		if [[ -n ${TG_IT_ARTIFACTS:-} ]] && ((rc != 0 || IT_FAIL > 0)); then
			mkdir -p "$TG_IT_ARTIFACTS"
			find "$IT_TMP" -maxdepth 1 -type f -size -4M -exec cp -t "$TG_IT_ARTIFACTS" {} +
			cp "$IT_PG/postgres.log" "$TG_IT_ARTIFACTS/" 2>/dev/null
			echo "[$IT_NAME] logs kept in $TG_IT_ARTIFACTS" >&2
		fi
		if [[ ${TG_IT_KEEP:-0} == 1 ]]; then
			echo "[$IT_NAME] kept $IT_TMP" >&2
		else
			rm -rf -- "$IT_TMP"
		fi
	fi
	exit "$rc"
}

it_net_up() {
	tg_net_up appliance || it_die "network set-up"
}

# A fresh cluster with database $IT_DB owned by $IT_USER. Durability is off: the
# tests measure the network path, not the disk.
it_pg_start() {
	tg_pg_init "$IT_PG" "pg-$RANDOM$RANDOM" fsync=off synchronous_commit=off \
		full_page_writes=off || it_die "initdb"
	tg_pg_start "$IT_PG" || it_die "postgres start"
	tg_pg_admin "$IT_PG" -d postgres \
		-c "CREATE ROLE $IT_USER LOGIN PASSWORD '$IT_PASSWORD'" \
		-c "CREATE DATABASE $IT_DB OWNER $IT_USER" >/dev/null || it_die "create test role and database"
}

# it_left <max>: seconds a command may take now: <max>, cut to what is left of the
# script's budget, at least 1.
it_left() {
	local left=$((IT_DEADLINE - SECONDS))
	((left > $1)) && left=$1
	((left < 1)) && left=1
	echo "$left"
}

# it_client <command...>: runs a command in the client namespace, for at most
# $IT_CMD_TIMEOUT (default 30) seconds. It runs in the background and is waited for,
# because bash runs a trap only after a foreground command ends: a SIGTERM to the
# script then cleans up at once (and ends this command, by its pid).
IT_CLIENT_PID=
it_client() {
	local rc=0
	timeout -k 5 "$(it_left "${IT_CMD_TIMEOUT:-30}")" ip netns exec "$TG_NS_CLIENT" "$@" <&0 &
	IT_CLIENT_PID=$!
	wait "$IT_CLIENT_PID" || rc=$?
	IT_CLIENT_PID=
	return "$rc"
}

# it_psql [psql args]: psql from the client namespace to the test database, through
# whatever joins the veths now (bounded like it_client).
it_psql() {
	it_client "$IT_PGBIN/psql" -X -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

# it_pgbench [pgbench args]: pgbench from the client namespace (bounded like it_client).
it_pgbench() {
	PGPASSWORD=$IT_PASSWORD PGCONNECT_TIMEOUT=5 it_client \
		"$IT_PGBIN/pgbench" -h "$TG_IP_SERVER" -p 5432 -U "$IT_USER" "$@" "$IT_DB"
}

# True while the tollgated this script started runs. It is our child, so its pid
# cannot be recycled before we reap it; an exited, unreaped one is a zombie.
it_tg_running() {
	local st
	[[ -n $IT_TG_PID ]] || return 1
	st=$(sed 's/.*) //' "/proc/$IT_TG_PID/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st:0:1} != Z ]]
}

# Waits (at most <tries> x 0.5 s) until a query through the current DUT answers.
it_wait_path() {
	local tries=${1:-60} i
	for ((i = 0; i < tries; i++)); do
		if [[ $IT_DUT_MODE == appliance ]] && ! it_tg_running; then
			it_log "tollgated exited while waiting for the path"
			return 1
		fi
		if [[ $(IT_CMD_TIMEOUT=5 it_psql -Atc 'SELECT 1' 2>/dev/null) == 1 ]]; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# The test config: the given one with this run's interface names, its own DPDK file
# prefix, Hyperscan cache and, for a relative recorder.dir, recording store (before,
# every test recorded into the demo's run/recordings, which grew from run to run until
# the store was full and tollgated refused to start), and relative paths ("../rules/...") made absolute, since
# they are relative to the file and the copy lives elsewhere. With IT_RULES=0 its
# rules section is left out: a transparent appliance (pgbench -i needs DROP TABLE and
# TRUNCATE, which the shipped destructive pack blocks, by design).
IT_RULES=1
it_tg_conf() {
	local out=$IT_TMP/tollgated.conf confdir
	[[ -r $TG_IT_CONF ]] || return 1
	confdir=$(cd "$(dirname "$TG_IT_CONF")" && pwd)
	local -a strip=(-e '')
	[[ $IT_RULES == 0 ]] && strip=(-e '/^rules[[:space:]]*=[[:space:]]*{/,/^};/d')
	sed "${strip[@]}" \
		-e "s/tg-veth-c/$TG_VETH_C/g" -e "s/tg-veth-s/$TG_VETH_S/g" \
		-e "s/--file-prefix[= ]*[A-Za-z0-9_-]*/--file-prefix=$TG_NS_PREFIX/g" \
		-e "s/\"--file-prefix\", *\"[A-Za-z0-9_-]*\"/\"--file-prefix\", \"$TG_NS_PREFIX\"/g" \
		-e "s|cache_dir[[:space:]]*=[[:space:]]*\"[^\"]*\"|cache_dir = \"$IT_TMP/hscache\"|" \
		-e "s|^\([[:space:]]*\)dir[[:space:]]*=[[:space:]]*\"\.[^\"]*\"|\1dir = \"$IT_TMP/recordings\"|" \
		-e "s|\"\\(\\.\\.\\{0,1\\}/\\)|\"$confdir/\\1|g" \
		"$TG_IT_CONF" >"$out" || return 1
	echo "$out"
}

# it_dut_start <appliance|bridge>: joins the two veths by tollgated or by the kernel
# bridge, then waits until PostgreSQL answers through it. <appliance> honours
# TG_IT_DUT=bridge (harness check without tollgated).
it_dut_start() {
	local mode=$1 conf
	[[ $mode == appliance && $TG_IT_DUT == bridge ]] && mode=bridge-as-appliance
	case $mode in
	bridge | bridge-as-appliance)
		tg_net_bridge_on || it_die "bridge up"
		IT_DUT_MODE=bridge
		;;
	appliance)
		[[ -x $TG_TOLLGATED ]] || it_die "tollgated not built ($TG_TOLLGATED)"
		conf=$(it_tg_conf) || it_die "no tollgated config ($TG_IT_CONF)"
		IT_TG_RUN=$((IT_TG_RUN + 1))
		"$TG_TOLLGATED" -c "$conf" --pidfile "$IT_TMP/tollgated.pid" \
			>"$IT_TMP/tollgated.$IT_TG_RUN.log" 2>&1 </dev/null &
		IT_TG_PID=$!
		IT_DUT_MODE=appliance
		;;
	*) it_die "unknown DUT mode $mode" ;;
	esac
	if ! it_wait_path 90; then
		if [[ $IT_DUT_MODE == appliance ]]; then
			tail -n 30 "$IT_TMP/tollgated.$IT_TG_RUN.log" >&2 || true
		fi
		it_die "no PostgreSQL session through the $mode within 45 s"
	fi
	it_log "path up through the $mode"
}

# Sends SIGTERM to tollgated, waits at most 20 s, then SIGKILL. Returns tollgated's
# exit status (137 when it had to be killed).
it_tg_kill() {
	local pid=$IT_TG_PID i rc=0
	[[ -n $pid ]] || return 0
	if it_tg_running; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			it_tg_running || break
			sleep 0.1
		done
		if it_tg_running; then
			it_log "tollgated $pid ignored SIGTERM for 20 s; killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	IT_TG_PID=
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# Stops the DUT. For tollgated: checks that it stopped on SIGTERM with status 0 and
# that its counters show no unexpected drop (one PASS/FAIL line each).
it_dut_stop() {
	local rc=0 log
	case $IT_DUT_MODE in
	bridge) tg_net_bridge_off ;;
	appliance)
		it_tg_kill || rc=$?
		log=$IT_TMP/tollgated.$IT_TG_RUN.log
		if [[ $rc -eq 0 ]]; then
			it_pass "tollgated stopped cleanly on SIGTERM (run $IT_TG_RUN)"
		else
			it_fail "tollgated exit status $rc on SIGTERM (run $IT_TG_RUN); log tail:"
			tail -n 20 "$log" | sed 's/^/    /'
		fi
		it_check_counters "$log"
		;;
	esac
	IT_DUT_MODE=
}

# Counters that must stay zero on a clean veth path. Each may appear several times
# (per worker, per port): all occurrences are summed.
IT_ZERO_COUNTERS=(drop_malformed drop_bad_cksum drop_out_of_window tx_drop_full
	mbuf_alloc_fail tcp_memcap_reset)

# it_port_counter <log> <port> <name>: counter <name> of port <port> (its name in the
# config) in tollgated's exit report, which ends with a "port <name>:" block per port
# (summed over the workers; 0 when the counter is not listed, i.e. zero).
it_port_counter() {
	awk -v hdr="port $2:" -v n="$3" '
		$0 == hdr { inport = 1; next }
		/^[^ \t]/ { inport = 0 }
		inport && $1 == n && $2 ~ /^[0-9]+$/ { v = $2 }
		END { print v + 0 }' "$1"
}

# it_counter_sum <log> <name>: the value of counter <name> in tollgated's exit report.
# The report has a block per worker ("  w0 rx_pkts  839") and then "total:" with one
# "  rx_pkts  839" line per counter; the total block is read when there is one, else
# every "<name> <number>" line is summed. Log lines in JSON are never read.
it_counter_sum() {
	awk -v n="$2" '
		/^[{]/ { next }
		/^total:/ { intotal = 1; hastotal = 1; t = 0; next }
		/^[^ \t]/ { intotal = 0 }
		{ for (i = 1; i < NF; i++)
			if ($i == n && $(i + 1) ~ /^[0-9]+$/) {
				if (intotal) t += $(i + 1); else s += $(i + 1)
			}
		}
		END { print (hastotal ? t : s) + 0 }' "$1"
}

it_check_counters() {
	local log=$1 name v bad=()
	if [[ $(it_counter_sum "$log" rx_pkts) -eq 0 ]]; then
		it_fail "tollgated printed no counter report (no rx_pkts line) in run $IT_TG_RUN"
		return
	fi
	for name in "${IT_ZERO_COUNTERS[@]}"; do
		v=$(it_counter_sum "$log" "$name")
		[[ $v -eq 0 ]] || bad+=("$name=$v")
	done
	if [[ ${#bad[@]} -eq 0 ]]; then
		it_pass "no unexpected drops in tollgated's counters (run $IT_TG_RUN)"
	else
		it_fail "unexpected drops in tollgated's counters (run $IT_TG_RUN): ${bad[*]}"
	fi
}

it_finish() {
	if ((SECONDS >= IT_DEADLINE)); then
		it_fail "ran out of its time budget ($IT_BUDGET s): a command was cut short"
	fi
	echo "[$IT_NAME] $IT_PASS passed, $IT_FAIL failed" >&2
	[[ $IT_FAIL -eq 0 && $IT_PASS -gt 0 ]]
}
