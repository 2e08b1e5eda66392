#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages tollgate needs and builds it (one line per step).
#
#   appliance/setup.sh [--asan] [--no-build]
#
#   --asan      also build build-asan/ with -Db_sanitize=address,undefined
#   --no-build  install packages only
#
# Idempotent: packages already present are not touched and apt-get update runs only
# when something is missing. Build output goes to run/setup-*.log; a failing step
# prints the tail of its log. TG_BUILD_DIR and TG_ASAN_BUILD_DIR (defaults build and
# build-asan) choose the build directories.
set -euo pipefail

cd "$(dirname "$0")/.."

asan=0
build=1
for arg in "$@"; do
	case $arg in
	--asan) asan=1 ;;
	--no-build) build=0 ;;
	-h | --help)
		sed -n '3,12p' "$0"
		exit 0
		;;
	*)
		echo "setup.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

build_dir=${TG_BUILD_DIR:-build}
asan_dir=${TG_ASAN_BUILD_DIR:-build-asan}

# build
pkgs=(meson ninja-build pkg-config gcc clang libdpdk-dev dpdk libhyperscan-dev libssl-dev
	libconfig-dev liblmdb-dev libcmocka-dev libjansson-dev libevent-dev libcurl4-openssl-dev)
# run and test: PostgreSQL 15 (pgbench is in postgresql-contrib), the network tools
# (ip, ethtool; sysctl and ps from procps), and clang's sanitizer and libFuzzer runtimes
pkgs+=(postgresql postgresql-contrib iproute2 ethtool procps python3 libclang-rt-14-dev)
# benchmarks: dpdk-testpmd and dpdk-telemetry.py (dpdk-dev), JSON output (jq)
pkgs+=(dpdk-dev jq)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "setup: packages: all ${#pkgs[@]} present"
else
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: packages: missing ${missing[*]}; run as root (sudo $0)" >&2
		exit 1
	fi
	echo "setup: packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	mkdir -p run
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>run/setup-apt.log 2>&1; then
		tail -n 30 run/setup-apt.log >&2
		echo "setup: packages: apt-get failed (log: run/setup-apt.log)" >&2
		exit 1
	fi
fi

[[ $build -eq 1 ]] || exit 0

mkdir -p run

# Runs "$@" with its output in run/setup-<name>.log; prints one line for the step.
step() {
	local name=$1 label=$2
	shift 2
	local log=run/setup-$name.log
	local t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		echo "setup: $label: ok ($((SECONDS - t0)) s)"
	else
		tail -n 40 "$log" >&2
		echo "setup: $label: FAILED (log: $log)" >&2
		exit 1
	fi
}

# meson picks up new source files only on reconfigure (source lists use fs.exists),
# so an existing build directory is always reconfigured.
configure() {
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$@" "$dir"
	else
		meson setup "$@" "$dir"
	fi
}

step configure "meson setup $build_dir" configure "$build_dir"
step build "ninja -C $build_dir" ninja -C "$build_dir"
if [[ $asan -eq 1 ]]; then
	step configure-asan "meson setup $asan_dir (address,undefined)" \
		configure "$asan_dir" -Db_sanitize=address,undefined
	step build-asan "ninja -C $asan_dir" ninja -C "$asan_dir"
fi
