# shellcheck shell=bash
# netns.sh - builds and removes the demo/test network of DESIGN.md §9 (sourced, not run).
#
#   ns <P>-client (198.18.0.1/24, eth0) ── veth ── <P>-veth-c ┐
#                                                             ├─ tollgated (appliance mode)
#   ns <P>-server (198.18.0.2/24, eth0) ── veth ── <P>-veth-s ┘  or bridge <P>-br0 (bridge mode)
#
# <P> is $TG_NS_PREFIX (default "tg"), so that the demo and several test runs can
# coexist. Everything created is written to a state file ($TG_NET_STATE, default
# run/net-<P>.state in the source tree) and tg_net_down removes exactly what that file lists, nothing
# else: a name that already exists is an error, never adopted.
#
# Functions (all return 0 on success, non-zero with a message on stderr otherwise):
#   tg_net_names                 sets TG_NS_CLIENT TG_NS_SERVER TG_VETH_C TG_VETH_S TG_BR
#                                TG_IP_CLIENT TG_IP_SERVER from TG_NS_PREFIX
#   tg_net_up <bridge|appliance> creates namespaces, veths (MTU $TG_NET_MTU, default 1500),
#                                addresses, offloads off;
#                                in bridge mode also the bridge joining both root ends
#   tg_net_bridge_on / _off      adds / removes the bridge on an existing network, so that
#                                one run can compare the appliance with the kernel bridge
#   tg_net_down                  removes what tg_net_up and tg_net_bridge_on created
#   tg_net_exists                true when the state file lists anything
#
# PostgreSQL in the server namespace (a private cluster under <base>, owned by postgres):
#   tg_pg_bindir                 prints the PostgreSQL 15 (or newest) bin directory
#   tg_pg_init <base> <password> [setting=value ...]
#                                initdb into <base>/data: listens on $TG_IP_SERVER:5432,
#                                password (md5/scram) auth for 198.18.0.0/15, no unix socket
#   tg_pg_start <base>           starts it inside $TG_NS_SERVER (pg_ctl -w, bounded)
#   tg_pg_stop <base>            stops it (fast, bounded; then SIGKILL to its postmaster pid)
#   tg_pg_admin <base> [psql args]  psql as superuser from inside the server namespace
#   tg_pid_alive <pid> <name>    true when <pid> runs and its command line contains <name>

TG_NS_PREFIX=${TG_NS_PREFIX:-tg}
TG_NETNS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TG_IP_CLIENT=198.18.0.1
TG_IP_SERVER=198.18.0.2

# Inside each namespace the veth end is called eth0: it is created directly in its
# namespace, so it never collides with a root-namespace name.
TG_NS_IFACE=eth0

tg_net_names() {
	# Interface names are at most 15 bytes: "<P>-veth-c" leaves 8 for the prefix.
	if [[ ! $TG_NS_PREFIX =~ ^[a-z][a-z0-9]{0,7}$ ]]; then
		echo "netns.sh: TG_NS_PREFIX '$TG_NS_PREFIX' must be 1-8 of [a-z0-9], starting with a letter" >&2
		return 1
	fi
	TG_NS_CLIENT=$TG_NS_PREFIX-client
	TG_NS_SERVER=$TG_NS_PREFIX-server
	TG_VETH_C=$TG_NS_PREFIX-veth-c
	TG_VETH_S=$TG_NS_PREFIX-veth-s
	TG_BR=$TG_NS_PREFIX-br0
	TG_NET_STATE=${TG_NET_STATE:-$TG_NETNS_ROOT/run/net-$TG_NS_PREFIX.state}
	export TG_NS_CLIENT TG_NS_SERVER TG_VETH_C TG_VETH_S TG_BR TG_NET_STATE
}

# Records one created object ("netns NAME" or "link NAME") in the state file.
tg_net__record() {
	echo "$1 $2" >>"$TG_NET_STATE"
}

tg_net__link_exists() {
	ip link show dev "$1" >/dev/null 2>&1
}

tg_net__ns_exists() {
	[[ -e /run/netns/$1 ]]
}

# Turns off the offloads that make af_packet hand over partial checksums and
# super-frames (DESIGN.md §9). <ns> may be empty for the root namespace.
tg_net__offloads_off() {
	local ns=$1 ifc=$2
	local -a pre=()
	[[ -n $ns ]] && pre=(ip netns exec "$ns")
	# ethtool exits non-zero when one feature is fixed on this kernel; the ones that
	# matter (tx checksum, tso, gso, gro) are changeable on veth, and are checked below.
	"${pre[@]}" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
	local off
	off=$("${pre[@]}" ethtool -k "$ifc" 2>/dev/null |
		grep -Ec '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): off') || true
	if [[ $off -ne 4 ]]; then
		echo "netns.sh: could not turn offloads off on $ifc${ns:+ in $ns}" >&2
		return 1
	fi
}

tg_net_exists() {
	tg_net_names || return 1
	[[ -s $TG_NET_STATE ]]
}

tg_net_up() {
	local mode=${1:-appliance}
	case $mode in
	bridge | appliance) ;;
	*)
		echo "netns.sh: mode must be bridge or appliance, not '$mode'" >&2
		return 1
		;;
	esac
	tg_net_names || return 1
	local n
	for n in "$TG_NS_CLIENT" "$TG_NS_SERVER"; do
		if tg_net__ns_exists "$n"; then
			echo "netns.sh: namespace $n already exists (another demo or test run? see ip netns list)" >&2
			return 1
		fi
	done
	for n in "$TG_VETH_C" "$TG_VETH_S" "$TG_BR"; do
		if tg_net__link_exists "$n"; then
			echo "netns.sh: interface $n already exists" >&2
			return 1
		fi
	done
	mkdir -p "$(dirname "$TG_NET_STATE")"
	: >>"$TG_NET_STATE"

	local side ns root ip
	for side in c s; do
		if [[ $side == c ]]; then
			ns=$TG_NS_CLIENT root=$TG_VETH_C ip=$TG_IP_CLIENT
		else
			ns=$TG_NS_SERVER root=$TG_VETH_S ip=$TG_IP_SERVER
		fi
		ip netns add "$ns" || return 1
		tg_net__record netns "$ns"
		ip link add "$root" mtu "${TG_NET_MTU:-1500}" type veth peer name "$TG_NS_IFACE" \
			mtu "${TG_NET_MTU:-1500}" netns "$ns" || return 1
		tg_net__record link "$root"
		# The root ends carry no address and must not speak: no IPv6 link-local, no DAD.
		sysctl -qw "net.ipv6.conf.$root.disable_ipv6=1" 2>/dev/null || true
		ip link set dev "$root" promisc on up || return 1
		tg_net__offloads_off "" "$root" || return 1
		ip -n "$ns" link set dev lo up || return 1
		ip -n "$ns" addr add "$ip/24" dev "$TG_NS_IFACE" || return 1
		ip -n "$ns" link set dev "$TG_NS_IFACE" up || return 1
		tg_net__offloads_off "$ns" "$TG_NS_IFACE" || return 1
	done
	if [[ $mode == bridge ]]; then
		tg_net_bridge_on || return 1
	fi
}

tg_net_bridge_on() {
	tg_net_names || return 1
	if tg_net__link_exists "$TG_BR"; then
		echo "netns.sh: bridge $TG_BR already exists" >&2
		return 1
	fi
	# No STP and no forward delay: the ports forward at once, like the appliance does.
	ip link add name "$TG_BR" type bridge stp_state 0 forward_delay 0 || return 1
	tg_net__record link "$TG_BR"
	sysctl -qw "net.ipv6.conf.$TG_BR.disable_ipv6=1" 2>/dev/null || true
	ip link set dev "$TG_VETH_C" master "$TG_BR" || return 1
	ip link set dev "$TG_VETH_S" master "$TG_BR" || return 1
	ip link set dev "$TG_BR" up || return 1
}

tg_net_bridge_off() {
	tg_net_names || return 1
	if grep -qx "link $TG_BR" "$TG_NET_STATE" 2>/dev/null; then
		ip link del dev "$TG_BR" 2>/dev/null || true
		local tmp
		tmp=$(grep -vx "link $TG_BR" "$TG_NET_STATE" || true)
		printf '%s\n' "$tmp" | sed '/^$/d' >"$TG_NET_STATE"
	fi
	# Leaving the bridge keeps the ports up and promiscuous; say so explicitly anyway.
	ip link set dev "$TG_VETH_C" promisc on up 2>/dev/null || true
	ip link set dev "$TG_VETH_S" promisc on up 2>/dev/null || true
}

tg_net_down() {
	tg_net_names || return 1
	[[ -f $TG_NET_STATE ]] || return 0
	local kind name rc=0
	# Links first (deleting a veth end removes its peer), then namespaces, newest first.
	while read -r kind name; do
		[[ $kind == link ]] || continue
		if tg_net__link_exists "$name"; then
			ip link del dev "$name" || rc=1
		fi
	done < <(tac "$TG_NET_STATE")
	while read -r kind name; do
		[[ $kind == netns ]] || continue
		if tg_net__ns_exists "$name"; then
			ip netns del "$name" || rc=1
		fi
	done < <(tac "$TG_NET_STATE")
	[[ $rc -eq 0 ]] && rm -f "$TG_NET_STATE"
	return "$rc"
}

tg_pid_alive() {
	local pid=$1 name=$2
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	# Guards against a recycled pid: the process must still be the one we started.
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$name"
}

tg_pg_bindir() {
	local d
	if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
		echo /usr/lib/postgresql/15/bin
		return 0
	fi
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -z $d ]]; then
		echo "netns.sh: no PostgreSQL server found (apt-get install postgresql)" >&2
		return 1
	fi
	echo "$d"
}

tg_pg_init() {
	local base=$1 password=$2
	shift 2
	local bin
	bin=$(tg_pg_bindir) || return 1
	tg_net_names || return 1
	mkdir -p "$base" || return 1
	chown postgres:postgres "$base" && chmod 700 "$base" || return 1
	if ! runuser -u postgres -- test -w "$base"; then
		echo "netns.sh: user postgres cannot write $base (a parent directory is closed to it)" >&2
		return 1
	fi
	printf '%s\n' "$password" >"$base/pw"
	chown postgres:postgres "$base/pw" && chmod 600 "$base/pw" || return 1
	runuser -u postgres -- "$bin/initdb" -D "$base/data" -U postgres --pwfile="$base/pw" \
		-E UTF8 --locale=C --auth-local=peer --auth-host=md5 >"$base/initdb.log" 2>&1 || {
		cat "$base/initdb.log" >&2
		return 1
	}
	# No unix socket: a system cluster may own /var/run/postgresql/.s.PGSQL.5432, and
	# every client (the superuser too) comes over TCP inside the server namespace.
	{
		echo "# added by appliance/netns.sh"
		echo "listen_addresses = '$TG_IP_SERVER'"
		echo "port = 5432"
		echo "unix_socket_directories = ''"
		echo "max_connections = 40"
		echo "shared_buffers = 64MB"
		local kv
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >>"$base/data/postgresql.conf"
	{
		echo "# TYPE DATABASE USER ADDRESS METHOD (appliance/netns.sh)"
		echo "host all all 198.18.0.0/15 md5"
		echo "host all all 127.0.0.1/32 md5"
	} >"$base/data/pg_hba.conf"
}

tg_pg_start() {
	local base=$1 bin
	bin=$(tg_pg_bindir) || return 1
	tg_net_names || return 1
	if ! ip netns exec "$TG_NS_SERVER" runuser -u postgres -- \
		"$bin/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 60 -s start; then
		tail -n 20 "$base/postgres.log" >&2 || true
		return 1
	fi
}

tg_pg_pid() {
	local base=$1 pid
	[[ -r $base/data/postmaster.pid ]] || return 1
	pid=$(head -n 1 "$base/data/postmaster.pid")
	tg_pid_alive "$pid" postgres || return 1
	echo "$pid"
}

tg_pg_stop() {
	local base=$1 bin pid i
	pid=$(tg_pg_pid "$base") || return 0
	bin=$(tg_pg_bindir) || return 1
	runuser -u postgres -- "$bin/pg_ctl" -D "$base/data" -m fast -w -t 30 -s stop >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		tg_pid_alive "$pid" postgres || return 0
		sleep 0.1
	done
	echo "netns.sh: postgres $pid did not stop, killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

tg_pg_admin() {
	local base=$1 bin
	shift
	bin=$(tg_pg_bindir) || return 1
	tg_net_names || return 1
	PGPASSWORD=$(cat "$base/pw") PGCONNECT_TIMEOUT=10 ip netns exec "$TG_NS_SERVER" \
		"$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$TG_IP_SERVER" -p 5432 -U postgres "$@"
}
