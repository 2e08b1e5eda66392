#!/usr/bin/env bash
# demo.sh - runs tollgate in front of a real PostgreSQL server on this machine, in network namespaces.
#
#   sudo appliance/demo.sh          set up, build, start (says so if already running)
#   sudo appliance/demo.sh stop     stop and remove everything the demo started
#   sudo appliance/demo.sh status   say whether it runs
#
# The network (DESIGN.md §9): ns tg-client (198.18.0.1) -- tg-veth-c -- tollgated --
# tg-veth-s -- ns tg-server (198.18.0.2), with PostgreSQL 15 in tg-server holding a
# small `shop` database. State lives in ./run/: pid files, logs, the cluster.
# TG_BUILD_DIR chooses the build directory (default: build). TG_DEMO_MODE=bridge puts
# a Linux bridge where tollgated would be (to compare, or before tollgated is built).
# TG_DEMO_WORKERS=N (1 to 8, default 1) runs N workers, spreading the flows in software
# (af_packet has no RSS): the configuration is written to run/demo-workers.conf, with
# qpairs=N on both ports and, when the machine has fewer than N+1 CPUs, an lcore list
# that shares them.
set -euo pipefail

cd "$(dirname "$0")/.."
TG_ROOT=$PWD
export TG_NS_PREFIX=tg
export TG_NET_STATE=$TG_ROOT/run/net-tg.state
# shellcheck source-path=SCRIPTDIR source=netns.sh
source "$TG_ROOT/appliance/netns.sh"
tg_net_names

build_dir=${TG_BUILD_DIR:-build}
mode=${TG_DEMO_MODE:-appliance}
[[ $mode == appliance || $mode == bridge ]] || { echo "demo: TG_DEMO_MODE must be appliance or bridge" >&2; exit 1; }
tollgated=$TG_ROOT/$build_dir/appliance/tollgated
conf=$TG_ROOT/appliance/demo.conf
run=$TG_ROOT/run
workers=${TG_DEMO_WORKERS:-1}
[[ $workers =~ ^[1-8]$ ]] || { echo "demo: TG_DEMO_WORKERS must be 1 to 8" >&2; exit 1; }
tg_pidfile=$run/tollgated.pid     # written by tollgated itself
tg_bgpid=$run/tollgated.bg.pid    # the pid this script started, in case tollgated could not
tg_log=$run/tollgated.log
pg_base_file=$run/pg.base         # where the cluster lives (a path)
demo_user=demo
demo_password=demo
uri="postgresql://$demo_user:$demo_password@$TG_IP_SERVER/shop"

say() {
	echo "demo: $*"
}

die() {
	echo "demo: $*" >&2
	exit 1
}

# Prints the pid of the tollgated this demo started, if it still runs.
tollgated_pid() {
	local f pid
	for f in "$tg_pidfile" "$tg_bgpid"; do
		[[ -r $f ]] || continue
		pid=$(head -n 1 "$f")
		if tg_pid_alive "$pid" tollgated; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

is_running() {
	tollgated_pid >/dev/null || tg_net_exists || [[ -s $pg_base_file ]]
}

stop_all() {
	local pid i base
	if pid=$(tollgated_pid); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			tg_pid_alive "$pid" tollgated || break
			sleep 0.1
		done
		if tg_pid_alive "$pid" tollgated; then
			say "tollgated $pid did not stop within 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "tollgated stopped; its counters (also at the end of $tg_log):"
		sed -n '/^total:/,/^[^ ]/{/^  /p}' "$tg_log" 2>/dev/null || true
	fi
	rm -f "$tg_pidfile" "$tg_bgpid"
	if [[ -s $pg_base_file ]]; then
		base=$(cat "$pg_base_file")
		tg_pg_stop "$base" || true
		# Remove the cluster only where this script made it.
		if [[ $base == "$run/pg" || $base == /var/tmp/tollgate-demo-pg.* ]]; then
			rm -rf -- "$base"
		fi
		rm -f "$pg_base_file"
		say "postgres stopped"
	fi
	if tg_net_exists; then
		tg_net_down || die "could not remove every namespace or link listed in $TG_NET_STATE"
		say "network removed"
	fi
}

# The sample database: customers with names, e-mails, card numbers (mostly valid
# Luhn test numbers, a few invalid ones, in several layouts) and SSNs, and orders.
# Deterministic: the same rows on every start.
sample_sql() {
	cat <<'SQL'
CREATE TABLE customers (
	id          serial PRIMARY KEY,
	name        text NOT NULL,
	email       text NOT NULL,
	card_number text,
	ssn         text,
	city        text,
	created_at  timestamptz NOT NULL
);
CREATE TABLE orders (
	id          serial PRIMARY KEY,
	customer_id int NOT NULL REFERENCES customers(id),
	item        text NOT NULL,
	quantity    int NOT NULL,
	amount      numeric(10, 2) NOT NULL,
	status      text NOT NULL,
	ordered_at  timestamptz NOT NULL
);
WITH
first AS (SELECT array['Olivia','Liam','Emma','Noah','Ava','Oliver','Sophia','Elijah','Isabella',
	'James','Mia','William','Amelia','Benjamin','Harper','Lucas','Evelyn','Henry','Abigail',
	'Alexander','Emily','Daniel','Ella','Matthew','Camila','Samuel','Luna','David','Aria',
	'Joseph','Grace','Carter','Chloe','Owen','Nora','Wyatt','Lily','John','Zoey','Jack'] AS a),
last AS (SELECT array['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis',
	'Rodriguez','Martinez','Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor',
	'Moore','Jackson','Martin','Lee','Perez','Thompson','White','Harris','Sanchez','Clark',
	'Ramirez','Lewis','Robinson','Walker','Young','Allen','King','Wright','Scott','Torres',
	'Nguyen','Hill','Flores'] AS a),
-- Valid (Luhn) test card numbers of the major schemes, then invalid look-alikes.
cards AS (SELECT array['4111111111111111','4012888888881881','4242424242424242',
	'4000056655665556','5555555555554444','5105105105105100','5500000000000004',
	'2223003122003222','378282246310005','371449635398431','6011111111111117',
	'6011000990139424','3530111333300000','36227206271667'] AS valid,
	array['4111111111111112','4242424242424241','5555555555554440','1234567812345678'] AS invalid),
cities AS (SELECT array['Springfield','Riverside','Franklin','Greenville','Bristol','Clinton',
	'Fairview','Salem','Madison','Georgetown'] AS a),
g AS (SELECT i FROM generate_series(1, 300) AS i)
INSERT INTO customers (name, email, card_number, ssn, city, created_at)
SELECT f.a[1 + (i * 7) % 40] || ' ' || l.a[1 + (i * 13) % 40],
	lower(f.a[1 + (i * 7) % 40]) || '.' || lower(l.a[1 + (i * 13) % 40]) || i ||
		(array['@example.com','@example.org','@example.net'])[1 + i % 3],
	CASE
		WHEN i % 25 = 0 THEN NULL
		WHEN i % 19 = 0 THEN c.invalid[1 + i % 4]
		ELSE (SELECT CASE
			WHEN length(v) <> 16 OR i % 3 = 0 THEN v
			WHEN i % 3 = 1 THEN regexp_replace(v, '(\d{4})(?=\d)', '\1 ', 'g')
			ELSE regexp_replace(v, '(\d{4})(?=\d)', '\1-', 'g') END
			FROM (SELECT c.valid[1 + i % 14] AS v) AS x)
	END,
	-- area 001-665 or 667-899, group 01-99, serial 0001-9999: well-formed SSNs;
	-- every 50th is a known-invalid one (area 000 or 666).
	CASE WHEN i % 50 = 0 THEN (array['000-12-3456','666-45-6789'])[1 + (i / 50) % 2]
	ELSE lpad((1 + (i * 37) % 665)::text, 3, '0') || '-' || lpad((1 + (i * 11) % 99)::text, 2, '0')
		|| '-' || lpad((1 + (i * 97) % 9999)::text, 4, '0') END,
	ci.a[1 + i % 10],
	timestamptz '2023-01-01 09:00:00+00' + (i * interval '29 hours 17 minutes')
FROM g, first f, last l, cards c, cities ci;

INSERT INTO orders (customer_id, item, quantity, amount, status, ordered_at)
SELECT 1 + (i * 31) % 300,
	(array['USB-C cable','Mechanical keyboard','27" monitor','Laptop stand','Webcam',
		'Noise-cancelling headphones','Desk lamp','Office chair','Mouse pad','Docking station'])[1 + i % 10],
	1 + i % 4,
	round(((i * 7919) % 50000) / 100.0 + 4.99, 2),
	(array['paid','shipped','delivered','refunded','pending'])[1 + (i * 3) % 5],
	timestamptz '2024-01-01 00:00:00+00' + (i * interval '7 hours 41 minutes')
FROM generate_series(1, 800) AS i;
ANALYZE customers;
ANALYZE orders;
SQL
}

# Writes run/demo-workers.conf: demo.conf with <workers> workers (see the top). Paths in
# demo.conf are relative to appliance/; run/ sits beside it, so they stay right.
workers_conf() {
	local out=$run/demo-workers.conf cpus n i lc
	# the CPUs this process may use, in order
	mapfile -t cpus < <(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status |
		tr ',' '\n' | awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }')
	n=${#cpus[@]}
	((n > 0)) || die "cannot read this process's CPUs"
	lc=""
	if ((n < workers + 1)); then
		# the main lcore on the first CPU, the workers round the CPUs from there
		lc="0@${cpus[0]}"
		for ((i = 1; i <= workers; i++)); do
			lc+=",$i@${cpus[(i - 1) % n]}"
		done
		lc=", \"--lcores\", \"$lc\""
	fi
	sed -e "s/\(iface=[A-Za-z0-9_-]*\)\"/\1,qpairs=$workers\"/" \
		-e "s/^\([[:space:]]*count[[:space:]]*=[[:space:]]*\)1;.*/\1$workers;/" \
		-e "s/\(\"--file-prefix=tollgate\"\) *\]/\1$lc ]/" \
		"$TG_ROOT/appliance/demo.conf" >"$out" || return 1
	grep -q "qpairs=$workers\"" "$out" && grep -q "count = $workers;" "$out" || return 1
	echo "$out"
}

start_all() {
	[[ $(id -u) -eq 0 ]] || die "run me as root: sudo $0"
	if [[ $mode == appliance ]]; then
		"$TG_ROOT/appliance/setup.sh"
		[[ -x $tollgated ]] || die "$tollgated was not built (see run/setup-build.log)"
		if ((workers > 1)); then
			mkdir -p "$run"
			conf=$(workers_conf) || die "could not write the $workers-worker configuration"
			say "$workers workers, flows spread in software: $conf"
		fi
		[[ -r $conf ]] || die "no $conf"
		"$tollgated" --check "$conf" >"$run/tollgated-check.log" 2>&1 ||
			die "$conf does not validate: $(tail -n 5 "$run/tollgated-check.log")"
	else
		"$TG_ROOT/appliance/setup.sh" --no-build # the bridge needs no tollgated
	fi
	mkdir -p "$run"

	# From here on, any failure removes what was started.
	trap 'rc=$?; if [[ $rc -ne 0 ]]; then echo "demo: start failed; cleaning up" >&2; stop_all; fi' EXIT

	tg_net_up appliance || die "could not build the network"
	local middle=tollgated
	[[ $mode == bridge ]] && middle="bridge $TG_BR"
	say "network: $TG_NS_CLIENT ($TG_IP_CLIENT) -- $TG_VETH_C | $middle | $TG_VETH_S -- $TG_NS_SERVER ($TG_IP_SERVER)"

	# The cluster goes to run/pg, unless user postgres cannot reach that directory
	# (a clone under /root, say): then to a private directory under /var/tmp.
	local base=$run/pg
	rm -rf -- "$base"
	mkdir -p "$base"
	chown postgres:postgres "$base"
	if ! runuser -u postgres -- test -w "$base"; then
		rmdir "$base"
		base=$(mktemp -d /var/tmp/tollgate-demo-pg.XXXXXX)
	fi
	echo "$base" >"$pg_base_file"
	local admin_pw
	admin_pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	tg_pg_init "$base" "$admin_pw" || die "initdb failed"
	tg_pg_start "$base" || die "postgres did not start (log: $base/postgres.log)"
	tg_pg_admin "$base" -d postgres \
		-c "CREATE ROLE $demo_user LOGIN PASSWORD '$demo_password'" \
		-c "CREATE DATABASE shop OWNER $demo_user" >/dev/null || die "could not create the shop database"
	sample_sql | PGPASSWORD=$demo_password ip netns exec "$TG_NS_SERVER" \
		"$(tg_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 "$uri" >/dev/null ||
		die "could not load the sample data"
	say "postgres: running in $TG_NS_SERVER on $TG_IP_SERVER:5432, cluster $base, database shop (300 customers, 800 orders)"

	local pid=
	if [[ $mode == appliance ]]; then
		"$tollgated" -c "$conf" --pidfile "$tg_pidfile" >"$tg_log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$tg_bgpid"
	else
		tg_net_bridge_on || die "could not add the bridge"
	fi
	local log_line="$tg_log (the counters are printed there when it stops)"
	[[ $mode == bridge ]] && log_line="none in bridge mode; postgres: $base/postgres.log"
	local i ok=0
	for ((i = 0; i < 60; i++)); do
		# Our own child: alive until it turns zombie (its pid cannot be reused before).
		if [[ -n $pid ]] && [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) == Z ]]; then
			tail -n 20 "$tg_log" >&2 || true
			die "tollgated exited during start-up (log: $tg_log)"
		fi
		if [[ $(ip netns exec "$TG_NS_CLIENT" "$(tg_pg_bindir)/psql" -X -Atc 'SELECT 1' \
			"$uri?connect_timeout=2" 2>/dev/null) == 1 ]]; then
			ok=1
			break
		fi
		sleep 0.5
	done
	[[ $ok -eq 1 ]] || die "no PostgreSQL session through $middle within 30 s (log: $tg_log)"
	trap - EXIT
	if [[ -n $pid ]]; then
		say "tollgated: running, pid $pid, log $tg_log"
	else
		say "bridge mode: the kernel bridge $TG_BR stands where tollgated would"
	fi
	cat <<EOF

tollgate is running between a client and a PostgreSQL server. Try it:

  sudo ip netns exec $TG_NS_CLIENT psql "$uri"

  shop=> SELECT name, email, card_number, ssn FROM customers LIMIT 5;  -- masked in flight
  shop=> SELECT count(*), sum(amount) FROM orders;                       -- untouched
  shop=> DROP TABLE orders;                                              -- blocked by policy

Every packet between $TG_NS_CLIENT and $TG_NS_SERVER goes through $middle.
Log:   $log_line
Stop:  sudo $0 stop
EOF
}

case ${1:-start} in
start)
	if is_running; then
		say "already running (psql: sudo ip netns exec $TG_NS_CLIENT psql \"$uri\"; stop: sudo $0 stop)"
		exit 0
	fi
	start_all
	;;
stop)
	[[ $(id -u) -eq 0 ]] || die "run me as root: sudo $0 stop"
	if ! is_running; then
		say "not running"
		exit 0
	fi
	stop_all
	say "stopped"
	;;
status)
	if pid=$(tollgated_pid); then
		say "running (tollgated pid $pid, log $tg_log)"
	elif [[ -s $pg_base_file ]] && ip link show dev "$TG_BR" >/dev/null 2>&1; then
		say "running in bridge mode (bridge $TG_BR)"
	elif is_running; then
		say "partly running (tollgated is not); sudo $0 stop cleans up"
	else
		say "not running"
	fi
	;;
-h | --help) sed -n '3,12p' "$0" ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
