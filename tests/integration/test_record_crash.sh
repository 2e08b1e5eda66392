#!/usr/bin/env bash
# test_record_crash.sh - tollgated killed with SIGKILL while recording pgbench: restarted on the same store, it opens clean, every chain verifies, the sessions recorded before the kill are served, and new sessions get new ids.
#
# pgbench -i runs directly on the server (the destructive pack blocks its DROP and
# TRUNCATE). Through tollgated (demo configuration, recording on, HTTPS API:
# tests/integration/data/record_lib.sh) pgbench -n -S -c 2 -T 8 runs in the
# background; once its two sessions are recorded (about 4 s in) the API's list is
# kept and tollgated gets SIGKILL (by its pid file). It is started again on the same
# recorder directory, and then:
#   - its log has no error line and the recorder opened the store (boot 2);
#   - tollctl verify --dir exits 0 (every session's hash chain verifies);
#   - GET /v1/sessions lists every session listed before the kill, each with at least
#     the events it had then;
#   - once pgbench has ended, no session of the killed daemon's boot is still listed
#     as live (the connections went with the daemon): those live at the kill are
#     closed with close_reason "lost";
#   - a new psql session is recorded, under an id never used before (the boot counter
#     in its high bits is higher), with its statement;
#   - tollgated then stops cleanly on SIGTERM and verify still passes.
# jq filters are in single quotes on purpose: $names there are jq variables.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=data/record_lib.sh
source "$(dirname "$0")/data/record_lib.sh"

it_init record-crash

# pgbench runs in the background: end it on every exit path, by its pid.
BENCH_PID=
crash_cleanup() {
	local rc=$?
	set +e
	if [[ -n $BENCH_PID ]]; then
		kill -TERM "$BENCH_PID" 2>/dev/null
		wait "$BENCH_PID" 2>/dev/null
	fi
	(exit "$rc") # it_cleanup takes the exit status from $?
	it_cleanup
}
trap crash_cleanup EXIT

rec_init
it_net_up
it_pg_start

PGPASSWORD=$IT_PASSWORD PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 90)" \
	ip netns exec "$TG_NS_SERVER" "$IT_PGBIN/pgbench" -i -s 1 -q \
	-h "$TG_IP_SERVER" -p 5432 -U "$IT_USER" "$IT_DB" >"$IT_TMP/init.out" 2>&1 || {
	tail -n 10 "$IT_TMP/init.out" >&2
	it_die "pgbench -i directly on the server"
}

it_dut_start appliance
rec_wait_api || it_die "the management API did not answer GET /v1/health within 10 s"

# pgbench -S for 8 s through the appliance, in the background (bounded by timeout).
PGPASSWORD=$IT_PASSWORD PGCONNECT_TIMEOUT=5 PGAPPNAME=tg-rec-bench \
	timeout -k 5 "$(it_left 60)" ip netns exec "$TG_NS_CLIENT" "$IT_PGBIN/pgbench" -n -S -c 2 -j 2 -T 8 \
	-h "$TG_IP_SERVER" -p 5432 -U "$IT_USER" "$IT_DB" >"$IT_TMP/bench.out" 2>&1 &
BENCH_PID=$!
t0=$SECONDS

# both pgbench sessions recorded, live, with statements
bench_live() {
	rec_get "/v1/sessions?live=1" || return 1
	[[ $(jq '[.sessions[] | select(.app == "tg-rec-bench" and .commands > 0)] | length' "$REC_OUT") -eq 2 ]]
}
if rec_until 60 0.1 bench_live; then
	it_pass "GET /v1/sessions?live=1: both pgbench sessions recorded while they run"
else
	it_fail "GET /v1/sessions?live=1: not two live pgbench sessions within 6 s: $(head -c 400 "$REC_OUT")"
fi
# about 4 s into the run
while ((SECONDS - t0 < 4)); do
	sleep 0.2
done

rec_get "/v1/sessions?limit=1000" || it_fail "GET /v1/sessions before the kill: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/before.json"
# "id events" of every session listed before the kill
jq -r '.sessions[] | "\(.id) \(.events)"' "$IT_TMP/before.json" >"$IT_TMP/before.txt" 2>/dev/null || true
n_before=$(wc -l <"$IT_TMP/before.txt")
ev_before=$(awk '{ s += $2 } END { print s + 0 }' "$IT_TMP/before.txt")
it_check "before the kill: the API lists $n_before sessions, $ev_before events" [ "$n_before" -gt 0 ]

# SIGKILL by the pid file, when it names the tollgated this script started
pid=$(cat "$IT_TMP/tollgated.pid" 2>/dev/null) || pid=
[[ -n $pid && $pid == "$IT_TG_PID" ]] || it_die "tollgated's pid file ($pid) does not name the tollgated started ($IT_TG_PID)"
kill -KILL "$pid"
rc=0
wait "$pid" 2>/dev/null || rc=$?
IT_TG_PID=
IT_DUT_MODE=
it_check "tollgated $pid killed with SIGKILL about $((SECONDS - t0)) s into pgbench (status $rc)" [ "$rc" -eq 137 ]

# Again, on the same configuration and recorder directory.
it_dut_start appliance
log2=$IT_TMP/tollgated.$IT_TG_RUN.log
rec_wait_api || it_die "the management API did not answer after the restart"

errs=$(rec_log_errors "$log2")
if [[ -z $errs ]] && grep -q "recording into $REC_DIR (boot 2)" "$log2"; then
	it_pass "restart: the recorder opened the store (boot 2), no error in the log"
else
	it_fail "restart: recorder not opened as boot 2, or errors in the log:"
	{ grep '"recorder"' "$log2"; echo "$errs"; } | sed 's/^/    | /'
fi

# pgbench: a client whose statement the killed daemon had taken (and acknowledged)
# waits for its answer forever, so it is not waited for past 8 s + 4 s.
while ((SECONDS - t0 < 12)) && kill -0 "$BENCH_PID" 2>/dev/null; do
	sleep 0.2
done
how=ended
if kill -0 "$BENCH_PID" 2>/dev/null; then
	how="was stopped (SIGTERM)"
	kill -TERM "$BENCH_PID" 2>/dev/null || true
fi
rc=0
wait "$BENCH_PID" || rc=$?
BENCH_PID=
it_log "pgbench $how with status $rc at $((SECONDS - t0)) s: $(grep -E '^(number of transactions actually processed|number of failed)|aborted' "$IT_TMP/bench.out" | tr '\n' ' ')"

rc=0
rec_offline verify >"$IT_TMP/verify1.out" 2>&1 || rc=$?
it_check "after the restart: tollctl verify --dir exit 0 ($(tail -n 1 "$IT_TMP/verify1.out"))" \
	bash -c "[[ $rc -eq 0 ]] && ! grep -q FAILED '$IT_TMP/verify1.out'"

rec_get "/v1/sessions?limit=1000" || it_fail "GET /v1/sessions after the restart: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/after.json"
jq -r '.sessions[] | "\(.id) \(.events)"' "$IT_TMP/after.json" >"$IT_TMP/after.txt" 2>/dev/null || true
missing=$(awk 'NR == FNR { a[$1] = $2; next } !($1 in a) || a[$1] < $2 { print $1 " (" $2 " events before)" }' \
	"$IT_TMP/after.txt" "$IT_TMP/before.txt")
it_check "after the restart: GET /v1/sessions serves all $n_before sessions recorded before the kill, none with fewer events" \
	[ -z "$missing" ]
[[ -z $missing ]] || it_log "missing or shorter: $missing"
it_log "after the restart, the pgbench sessions: $(jq -r '[.sessions[] | select(.app == "tg-rec-bench") | "\(.id) live=\(.live) close=\(.close_reason)"] | join(", ")' "$IT_TMP/after.json")"
# A session of the killed daemon cannot still be open: its connection went with it
# (pgbench has ended), and nothing of the new boot follows it. It must not stay "live".
killed_boot=$(cut -c1-4 "$IT_TMP/before.txt" | sort -u | tail -n 1)
stale=$(jq -r --arg b "$killed_boot" '[.sessions[] | select(.live and .id[0:4] == $b) | .id] | join(" ")' \
	"$IT_TMP/after.json" 2>/dev/null) || stale="(unreadable)"
it_check "after the restart: no session of the killed daemon (boot $killed_boot) is still listed as live ('$stale')" \
	[ -z "$stale" ]
# those that were live at the kill are closed as "lost" (the recorder's reason for them)
was_live=$(jq -r '[.sessions[] | select(.live) | .id] | sort | join(" ")' "$IT_TMP/before.json" 2>/dev/null) || was_live=
now=$(jq -r --arg ids "$was_live" '[.sessions[] | select(.id as $i | $ids | split(" ") | index($i)) |
	"\(.id)=\(.close_reason)"] | sort | join(" ")' "$IT_TMP/after.json" 2>/dev/null) || now=
want=$(for id in $was_live; do printf '%s=lost ' "$id"; done)
it_check "after the restart: the sessions live at the kill are closed as lost ('$now')" \
	[ -n "$was_live" -a "$now " == "$want" ]

# A new session after the restart.
app=tg-rec-after
uri=${IT_URI/application_name=tg-it/application_name=$app}
v=$(it_client "$IT_PGBIN/psql" -X -At -c "SELECT 'after-restart'" "$uri" 2>&1) || true
it_check "psql through the restarted appliance ('$v')" [ "$v" == after-restart ]
sid=
find_new() {
	rec_get "/v1/sessions?limit=1000" || return 1
	sid=$(jq -r --arg app "$app" '[.sessions[] | select(.app == $app and .live == false)][0].id // empty' "$REC_OUT")
	[[ -n $sid ]]
}
if rec_until 50 0.1 find_new; then
	if ! grep -q "^$sid " "$IT_TMP/before.txt" && [[ $((16#${sid:0:4})) -gt $((16#${killed_boot:-0})) ]]; then
		it_pass "the new session is recorded under a new id $sid (boot ${sid:0:4}, before the kill ${killed_boot:-none})"
	else
		it_fail "the new session's id $sid is not new (ids before the kill: $(cut -d' ' -f1 "$IT_TMP/before.txt" | tr '\n' ' '))"
	fi
	rec_get "/v1/sessions/$sid/events" || true
	v=$(jq -r '[.events[] | select(.type == "command") | .text] | join(";")' "$REC_OUT" 2>/dev/null) || v=
	it_check "the new session's events hold its statement ('$v')" [ "$v" == "SELECT 'after-restart'" ]
else
	it_fail "no closed session of application $app in GET /v1/sessions within 5 s"
fi

it_dut_stop
rc=0
rec_offline verify >"$IT_TMP/verify2.out" 2>&1 || rc=$?
it_check "after the final stop: tollctl verify --dir exit 0 ($(tail -n 1 "$IT_TMP/verify2.out"))" \
	bash -c "[[ $rc -eq 0 ]] && ! grep -q FAILED '$IT_TMP/verify2.out'"

# A store that cannot be opened (here recorder.dir lies under a regular file; a store
# at its map limit fails the same way): with recorder.policy = best_effort (the
# default) tollgated starts without recording, says so in its log and in /metrics, and
# sessions go through; with must_record it does not start. Before, it never started:
# an inline appliance whose recording disk filled up stopped every session behind it
# at its next restart.
: >"$IT_TMP/not-a-dir"
sed "s|dir = \"$REC_DIR\";|dir = \"$IT_TMP/not-a-dir/rec\";|" "$TG_IT_CONF" >"$IT_TMP/norec.conf"
grep -q "not-a-dir/rec" "$IT_TMP/norec.conf" || it_die "config with an unusable recorder.dir"
TG_IT_CONF=$IT_TMP/norec.conf
it_dut_start appliance
log=$IT_TMP/tollgated.$IT_TG_RUN.log
v=$(it_client "$IT_PGBIN/psql" -X -At -c "SELECT 'without-recording'" "$IT_URI" 2>&1) || true
it_check "unusable store, best_effort: tollgated runs and psql goes through ('$v')" [ "$v" == without-recording ]
it_check "... its log says it runs without recording" grep -q 'running WITHOUT recording' "$log"
rec_get /metrics || true
it_check "... and /metrics has tollgate_recorder_unavailable 1 (HTTP $REC_CODE)" \
	grep -qx 'tollgate_recorder_unavailable 1' "$REC_OUT"
it_dut_stop
sed 's|^recorder = {|recorder = {\n\tpolicy = "must_record";|' "$IT_TMP/norec.conf" >"$IT_TMP/norec-must.conf"
TG_IT_CONF=$IT_TMP/norec-must.conf
conf=$(it_tg_conf) || it_die "must_record config"
rc=0
timeout -k 5 "$(it_left 60)" "$TG_TOLLGATED" -c "$conf" >"$IT_TMP/must.log" 2>&1 || rc=$?
it_check "unusable store, must_record: tollgated does not start (status $rc), and says why" \
	bash -c "[[ $rc -ne 0 && $rc -ne 124 ]] && grep -q 'must_record: not starting' '$IT_TMP/must.log'"

it_finish
