#!/usr/bin/env bash
# run_all.sh - THE test command: set-up and build, unit tests (plain and ASan+UBSan), integration tests, fuzz smoke tests.
#
#   sudo tests/run_all.sh
#
# Runs from a fresh clone as root on Debian 12. Every test is counted, whatever runs
# it: meson's Ok/Fail tally for the CMocka suites, the PASS/FAIL lines of each
# integration script, the fuzz smoke script's PASS/FAIL lines (or its exit status).
# The last line is exactly "N passed, M failed"; the exit status is non-zero when
# M > 0. Logs go to run/tests/.
#
# Environment: TG_BUILD_DIR, TG_ASAN_BUILD_DIR, TG_FUZZ_BUILD_DIR (defaults build,
# build-asan, build-fuzz);
# TG_SKIP_ASAN=1 leaves out the sanitizer build and its runs.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
export TG_BUILD_DIR=${TG_BUILD_DIR:-build}
export TG_ASAN_BUILD_DIR=${TG_ASAN_BUILD_DIR:-build-asan}
export TG_FUZZ_BUILD_DIR=${TG_FUZZ_BUILD_DIR:-build-fuzz}
asan=$((${TG_SKIP_ASAN:-0} == 1 ? 0 : 1))
logs=$root/run/tests
t_start=$SECONDS

passed=0
failed=0
failures=()

note() {
	echo "== $*"
}

# count <passed> <failed> [<what failed>...]
count() {
	passed=$((passed + $1))
	failed=$((failed + $2))
	shift 2
	failures+=("$@")
}

finish() {
	echo
	if [[ ${#failures[@]} -gt 0 ]]; then
		echo "Failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	note "total time $((SECONDS - t_start)) s"
	echo "$passed passed, $failed failed"
	if [[ $failed -gt 0 ]]; then
		exit 1
	fi
	exit 0
}

if [[ $(id -u) -ne 0 ]]; then
	echo "run_all.sh: run as root (the integration tests build network namespaces): sudo $0" >&2
	count 0 1 "not run as root"
	finish
fi

rm -rf -- "$logs"
mkdir -p "$logs"

# 1. Packages and builds.
note "set-up and build"
setup_args=()
[[ $asan -eq 1 ]] && setup_args+=(--asan)
if ! appliance/setup.sh "${setup_args[@]}"; then
	count 0 1 "appliance/setup.sh ${setup_args[*]} (build failed: see run/setup-*.log)"
	finish
fi

# 2 and 3. Unit tests. meson's summary gives the tally; a run that dies before its
# summary still counts as one failure.
# unit_run <label> <build dir> [env assignments...]
unit_run() {
	local label=$1 dir=$2
	shift 2
	local log=$logs/unit-$label.log rc=0
	env "$@" meson test -C "$dir" --suite unit --print-errorlogs --timeout-multiplier 3 \
		>"$log" 2>&1 || rc=$?
	local ok fail
	ok=$(awk '/^Ok:/ { print $2 }' "$log")
	fail=$(awk '/^(Fail|Timeout|Unexpected Pass):/ { s += $NF } END { print s + 0 }' "$log")
	if [[ -z $ok ]]; then
		if grep -q 'No suitable tests defined' "$log"; then
			echo "   unit ($label): no unit tests defined"
			return
		fi
		tail -n 30 "$log"
		count 0 1 "unit ($label): meson test exited $rc without a summary (log: $log)"
		return
	fi
	# One line per test, from the progress list (meson repeats failures in a summary).
	local lines
	lines=$(awk '/^(Summary of Failures:|Ok:)/ { exit } /^ *[0-9]+\/[0-9]+ / { print }' "$log")
	if [[ -n $lines ]]; then
		printf '%s\n' "$lines" | sed 's/^/   /'
	fi
	local names=()
	mapfile -t names < <(grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|UNEXPECTEDPASS) ' <<<"$lines" |
		sed -E "s/^ *[0-9]+\/[0-9]+ +/unit ($label): /; s/ +/ /g")
	if [[ $rc -ne 0 && $fail -eq 0 ]]; then
		fail=1
		names+=("unit ($label): meson test exited $rc (log: $log)")
	fi
	count "$ok" "$fail" "${names[@]}"
	echo "   unit ($label): $ok passed, $fail failed"
}

note "unit tests ($TG_BUILD_DIR)"
unit_run plain "$TG_BUILD_DIR"
if [[ $asan -eq 1 ]]; then
	note "unit tests under ASan+UBSan ($TG_ASAN_BUILD_DIR)"
	# The DPDK EAL keeps memory to the end of the process: leak reports would be noise.
	unit_run asan "$TG_ASAN_BUILD_DIR" \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:print_summary=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
fi

# 4. Integration tests: each script prints PASS:/FAIL: lines and exits 0/1.
# script_run <label> <timeout s> <script> [args...] [-- env assignments...]: counts
# the script's PASS/FAIL lines; a script that prints none but closes with a line
# "N passed, M failed" is counted by that line; one with neither counts as one test
# by its exit status when TG_STATUS_ONLY=1, and as one failure ("ran no test") otherwise.
script_run() {
	local label=$1 limit=$2 script=$3
	shift 3
	local args=() envs=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		args+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	envs=("$@")
	local log=$logs/$label.log rc=0
	envs+=("TG_IT_ARTIFACTS=$logs/$label")
	env "${envs[@]}" timeout -k 90 "$limit" bash "$script" "${args[@]}" </dev/null >"$log" 2>&1 || rc=$?
	local p f
	p=$(grep -c '^PASS: ' "$log" || true)
	f=$(grep -c '^FAIL: ' "$log" || true)
	grep -E '^(PASS|FAIL): ' "$log" | sed 's/^/   /' || true
	local names=()
	mapfile -t names < <(grep '^FAIL: ' "$log" | sed 's/^FAIL: //')
	local tally
	tally=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	if [[ $p -eq 0 && $f -eq 0 && -n $tally ]]; then
		grep -vE '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 40 | sed 's/^/   /'
		tally=${tally#*: }
		p=${tally%% passed*}
		f=${tally#*passed, }
		f=${f%% failed*}
		[[ $f -gt 0 ]] && names+=("$label: $f failed (log: $log)")
		if [[ $rc -ne 0 && $f -eq 0 ]]; then
			f=1
			names+=("$label: exited $rc (log: $log)")
		fi
	elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
		f=$((f + 1))
		names+=("$label: timed out after $limit s (log: $log)")
	elif [[ $rc -ne 0 && $f -eq 0 ]]; then
		f=1
		names+=("$label: exited $rc without a FAIL line (log: $log)")
	elif [[ $rc -eq 0 && $p -eq 0 && $f -eq 0 && ${TG_STATUS_ONLY:-0} == 1 ]]; then
		p=1
		echo "   $label: passed (exit status 0)"
	elif [[ $rc -eq 0 && $p -eq 0 ]]; then
		f=1
		names+=("$label: ran no test (log: $log)")
	fi
	if [[ $f -gt 0 ]]; then
		tail -n 25 "$log" | grep -vE '^(PASS|FAIL): ' | sed 's/^/   | /' || true
	fi
	count "$p" "$f" "${names[@]}"
}

note "integration tests (through $TG_BUILD_DIR/appliance/tollgated and the kernel bridge)"
for t in tests/integration/test_*.sh; do
	[[ -e $t ]] || continue
	name=$(basename "$t" .sh)
	script_run "integration-${name#test_}" 300 "$t"
done
if [[ $asan -eq 1 ]]; then
	# every integration test again, tollgated built with ASan+UBSan (issue 2: the whole
	# suite passes under them); the clients and servers are the same
	note "integration tests with tollgated under ASan+UBSan"
	for t in tests/integration/test_*.sh; do
		[[ -e $t ]] || continue
		name=$(basename "$t" .sh)
		name=${name#test_}
		script_run "integration-$name-asan" 300 "$t" \
			-- TG_TOLLGATED="$root/$TG_ASAN_BUILD_DIR/appliance/tollgated" TG_IT_TAG=asan \
			ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:print_summary=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
	done
fi

# 5. Fuzz smoke tests (tests/fuzz/run_smoke.sh, when it exists).
note "fuzz smoke tests"
if [[ -f tests/fuzz/run_smoke.sh ]]; then
	TG_STATUS_ONLY=1 script_run fuzz-smoke 600 tests/fuzz/run_smoke.sh "$TG_FUZZ_BUILD_DIR"
else
	echo "   skipped: tests/fuzz/run_smoke.sh does not exist yet"
fi

finish
