#!/usr/bin/env bash
# run_smoke.sh - builds the libFuzzer targets (clang) and runs each one briefly.
#
#   tests/fuzz/run_smoke.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default build-fuzz) is set up if needed with
#   CC=clang meson setup BUILD_DIR -Dfuzz=true -Dtests=false
# and only the fuzz targets are built (ninja alias "fuzz"). Every fuzz_* binary there
# then runs for SECONDS (default 20) on a temporary copy of its seed corpus
# (tests/fuzz/corpus/NAME, NAME without the fuzz_ prefix), so the repository is not
# modified. One line per target: "fuzz NAME: ok (N runs)" or "fuzz NAME: FAILED";
# the last line is "N passed, M failed"; the exit status is non-zero if any failed.
# Crash inputs and logs are kept in run/fuzz/NAME/.
set -uo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
bdir=${1:-build-fuzz}
secs=${2:-20}
logs=$root/run/fuzz
passed=0
failed=0

finish() {
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
	exit
}

# Fails the whole run before any target could run.
give_up() {
	echo "fuzz smoke: $*"
	failed=$((failed + 1))
	finish
}

if ! [[ $secs =~ ^[0-9]+$ ]] || [[ $secs -lt 1 ]]; then
	give_up "SECONDS must be a positive integer, not '$secs'"
fi

# clang and the libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
fuzzer_works() {
	local t
	t=$(mktemp -d) || return 1
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$t/t.c"
	clang -fsanitize=fuzzer,address,undefined -o "$t/t" "$t/t.c" >/dev/null 2>&1
	local rc=$?
	rm -rf -- "$t"
	return $rc
}
if ! command -v clang >/dev/null 2>&1 || ! fuzzer_works; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "fuzz smoke: installing clang and libclang-rt-14-dev"
		DEBIAN_FRONTEND=noninteractive apt-get install -y clang libclang-rt-14-dev >/dev/null ||
			give_up "apt-get install clang libclang-rt-14-dev failed"
	fi
	fuzzer_works || give_up "clang with libFuzzer is missing: apt-get install -y clang libclang-rt-14-dev"
fi

mkdir -p "$logs"

# Leaks inside third-party code that tollgate cannot fix (LeakSanitizer would stop
# the run at once); a target may add its own in tests/fuzz/NAME.lsan.supp.
#   libconfig 1.5 (Debian 12) leaks a string token when parsing fails: after
#   config_read_string() of '""' or '"=~JJ"', config_destroy() leaves the buffer of
#   libconfig_yylex / strbuf_append. A config_t never destroyed is still reported
#   (its settings are allocated elsewhere).
lsan_common=$'leak:libconfig_yylex\nleak:strbuf_append'
if [[ ! -f $bdir/build.ninja ]]; then
	CC=clang meson setup "$bdir" -Dfuzz=true -Dtests=false >"$logs/setup.log" 2>&1 ||
		{ tail -n 20 "$logs/setup.log"; give_up "meson setup $bdir failed (log: $logs/setup.log)"; }
elif ! grep -A1 '^rule c_COMPILER$' "$bdir/build.ninja" | grep -Eq '^ command = ([^ ]*/)?(ccache )?clang(-[0-9]+)? '; then
	# A build directory's compiler is fixed: leave a gcc one alone.
	give_up "$bdir is not a clang build directory: remove it or name another"
elif ! meson configure "$bdir" | grep -Eq '^ *fuzz +true'; then
	meson configure "$bdir" -Dfuzz=true >"$logs/setup.log" 2>&1 ||
		{ tail -n 20 "$logs/setup.log"; give_up "meson configure $bdir -Dfuzz=true failed"; }
fi
ninja -C "$bdir" fuzz >"$logs/build.log" 2>&1 ||
	{ tail -n 30 "$logs/build.log"; give_up "building the fuzz targets failed (log: $logs/build.log)"; }

targets=()
for bin in "$bdir"/tests/fuzz/fuzz_*; do
	[[ -f $bin && -x $bin ]] && targets+=("$bin")
done
[[ ${#targets[@]} -gt 0 ]] || give_up "no fuzz_* binary in $bdir/tests/fuzz"

for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	out=$logs/$name
	rm -rf -- "$out"
	mkdir -p "$out"
	work=$(mktemp -d) || give_up "mktemp failed"
	mkdir -p "$work/corpus"
	for seeds in "tests/fuzz/corpus/${name#fuzz_}" "tests/fuzz/corpus/$name"; do
		if [[ -d $seeds ]]; then
			cp -R "$seeds"/. "$work/corpus"/
			break
		fi
	done
	supp=$work/lsan.supp
	echo "$lsan_common" >"$supp"
	[[ -f tests/fuzz/$name.lsan.supp ]] && cat "tests/fuzz/$name.lsan.supp" >>"$supp"
	# -timeout: one input taking seconds is a hang (a quadratic path, say). It is
	# wall-clock time, hence the margin on a loaded machine.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp:print_suppressions=0} \
		timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
		"$work/corpus" >"$out/log" 2>&1
	rc=$?
	rm -rf -- "$work"
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out/log" | tail -n 1)
	if [[ $rc -eq 0 && -n $runs ]]; then
		echo "fuzz $name: ok ($runs runs)"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED"
		tail -n 25 "$out/log" | sed 's/^/   | /'
		echo "   | exit status $rc; log and crash input in $out/"
		failed=$((failed + 1))
	fi
done
finish
