#!/usr/bin/env bash
# test_record_kill.sh - POST /v1/sessions/{id}/kill resets a live psql session through tollgated within seconds; only the admin role may; the kill is audited with the token's name and recorded as the session's close reason.
#
# tollgated runs the demo configuration with recording and the HTTPS API
# (tests/integration/data/record_lib.sh). A psql session (application
# "tg-rec-kill") runs SELECT pg_sleep(20) through the appliance, in the background.
#   - It appears in GET /v1/sessions?live=1 with its statement recorded.
#   - POST .../kill without a token gets 401, with the auditor token 403 (tollctl kill
#     with the auditor token exits 4), and the session goes on.
#   - With the admin token and a reason: 200 {"session": id, "killed": true}; psql
#     ends within 5 s (not 20), with an error saying the connection was lost, and the
#     server's backend ends too (client_connection_check_interval sees the reset).
#   - GET /v1/audit lists session.kill by "it-admin" for that session, result ok, with
#     the reason; the session is then closed with close_reason "killed", its last
#     event a close with reason "killed"; a second kill gets 409.
#   - A new session through the appliance still works; tollgated counted one
#     ctl_kill and stops cleanly.
# jq filters are in single quotes on purpose: $names there are jq variables.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=data/record_lib.sh
source "$(dirname "$0")/data/record_lib.sh"

it_init record-kill

# The sleeping psql runs in the background: end it on every exit path, by its pid.
SLEEP_PID=
kill_cleanup() {
	local rc=$?
	set +e
	if [[ -n $SLEEP_PID ]]; then
		kill -TERM "$SLEEP_PID" 2>/dev/null
		wait "$SLEEP_PID" 2>/dev/null
	fi
	(exit "$rc") # it_cleanup takes the exit status from $?
	it_cleanup
}
trap kill_cleanup EXIT

rec_init
it_net_up
it_pg_start
it_dut_start appliance
rec_wait_api || it_die "the management API did not answer GET /v1/health within 10 s"

app=tg-rec-kill
# The server checks its client socket every 200 ms while the statement runs, so that
# the reset on the server's side is seen before pg_sleep ends.
uri="${IT_URI/application_name=tg-it/application_name=$app}&options=-c%20client_connection_check_interval%3D200"
timeout -k 5 "$(it_left 40)" ip netns exec "$TG_NS_CLIENT" "$IT_PGBIN/psql" -X -At \
	-c "SELECT 'slept', pg_sleep(20)" "$uri" >"$IT_TMP/sleep.out" 2>"$IT_TMP/sleep.err" &
SLEEP_PID=$!

sid=
find_live() {
	rec_get "/v1/sessions?live=1" || return 1
	sid=$(jq -r --arg app "$app" '[.sessions[] | select(.app == $app and .commands == 1)][0].id // empty' "$REC_OUT")
	[[ -n $sid ]]
}
if rec_until 50 0.1 find_live; then
	it_pass "GET /v1/sessions?live=1 lists the sleeping psql session $sid with its statement"
else
	it_die "no live session of application $app with one command within 5 s: $(head -c 300 "$REC_OUT")"
fi
rec_get "/v1/sessions/$sid/events" || true
v=$(jq -r '[.events[] | select(.type == "command") | .text] | join(";")' "$REC_OUT" 2>/dev/null) || v=
it_check "its events hold the statement ('$v')" grep -q "PG_SLEEP (20)\|PG_SLEEP(20)" <<<"$v"

# The wrong tokens: nothing happens.
echo '{"reason": "it-kill-test"}' >"$IT_TMP/kill.json"
rec_api POST "/v1/sessions/$sid/kill" none "$IT_TMP/kill.json"
it_check "kill without a token: 401 (got $REC_CODE)" [ "$REC_CODE" == 401 ]
rec_api POST "/v1/sessions/$sid/kill" auditor "$IT_TMP/kill.json"
it_check "kill with the auditor token: 403 (got $REC_CODE: $(head -c 120 "$REC_OUT"))" [ "$REC_CODE" == 403 ]
rc=0
rec_ctl kill "$sid" >"$IT_TMP/ctl-kill.out" 2>&1 || rc=$?
it_check "tollctl kill with the auditor token: exit 4 (got $rc: $(head -n 1 "$IT_TMP/ctl-kill.out"))" [ "$rc" -eq 4 ]
sleep 0.5
rec_get "/v1/sessions/$sid" || true
v=$(jq -r '.live' "$REC_OUT" 2>/dev/null) || v=
it_check "after the refused kills the session is still live and psql still runs" \
	bash -c "[[ '$v' == true ]] && kill -0 $SLEEP_PID 2>/dev/null"

# The admin kill.
t_kill=$SECONDS
rec_api POST "/v1/sessions/$sid/kill" admin "$IT_TMP/kill.json"
v=$(jq -c . "$REC_OUT" 2>/dev/null) || v=$(head -c 200 "$REC_OUT")
ok=false
[[ $REC_CODE == 200 ]] && rec_jq --arg s "$sid" '.session == $s and .killed == true' "$REC_OUT" && ok=true
it_check "kill with the admin token: 200 ($REC_CODE: $v)" $ok

# psql must end within 5 s, with the connection lost.
for ((i = 0; i < 50; i++)); do
	kill -0 "$SLEEP_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SLEEP_PID" 2>/dev/null; then
	it_fail "psql still runs 5 s after the kill"
fi
rc=0
wait "$SLEEP_PID" || rc=$?
SLEEP_PID=
took=$((SECONDS - t_kill))
err=$(tr '\n' ' ' <"$IT_TMP/sleep.err")
if [[ $rc -ne 0 && $rc -ne 124 && $took -le 5 && ! -s $IT_TMP/sleep.out ]] &&
	grep -qiE 'connection|terminated|reset|closed' "$IT_TMP/sleep.err"; then
	it_pass "psql saw its connection closed within $took s of the kill (exit $rc: $err)"
else
	it_fail "psql after the kill: exit $rc after $took s, stdout '$(cat "$IT_TMP/sleep.out")', stderr '$err'"
fi

# The server's side was reset too: its backend ends long before the 20 s of pg_sleep.
backend_gone() {
	[[ $(rec_srv_psql -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$app'" 2>/dev/null) == 0 ]]
}
if rec_until 25 0.2 backend_gone; then
	it_pass "the server's backend of the killed session ended $((SECONDS - t_kill)) s after the kill (reset on the server's side too)"
else
	it_fail "the server's backend of the killed session still runs $((SECONDS - t_kill)) s after the kill"
fi

# The audit log names the admin token.
rec_get "/v1/audit" || true
v=$(jq -c --arg s "$sid" '[.audit[] | select(.action == "session.kill" and .detail.session == $s)]' "$REC_OUT" 2>/dev/null) || v=
it_check "GET /v1/audit: one session.kill of $sid by it-admin, result ok, reason it-kill-test ($v)" \
	rec_jq 'length == 1 and .[0].who == "it-admin" and .[0].detail.result == "ok" and .[0].detail.reason == "it-kill-test"' <<<"$v"
rc=0
rec_ctl audit >"$IT_TMP/ctl-audit.out" 2>&1 || rc=$?
it_check "tollctl audit shows the kill by it-admin (exit $rc)" \
	grep -qE "it-admin +session\.kill +.*$sid" "$IT_TMP/ctl-audit.out"

# The recording: closed by the kill.
closed_killed() {
	rec_get "/v1/sessions/$sid" || return 1
	[[ $(jq -r '.live' "$REC_OUT") == false ]]
}
rec_until 50 0.1 closed_killed || true
v=$(jq -r '"\(.live) \(.close_reason)"' "$REC_OUT" 2>/dev/null) || v=
it_check "the session is recorded as closed with close_reason killed ('$v')" [ "$v" == "false killed" ]
rec_get "/v1/sessions/$sid/events" || true
v=$(jq -r '.events[-1] | "\(.type) \(.reason)"' "$REC_OUT" 2>/dev/null) || v=
it_check "its last event is a close with reason killed ('$v')" [ "$v" == "close killed" ]

rec_api POST "/v1/sessions/$sid/kill" admin "$IT_TMP/kill.json"
it_check "a second kill of the closed session: 409 (got $REC_CODE: $(head -c 120 "$REC_OUT"))" [ "$REC_CODE" == 409 ]
rec_api POST "/v1/sessions/00ff00000000abcd/kill" admin -
it_check "kill of an unknown session: 404 (got $REC_CODE)" [ "$REC_CODE" == 404 ]

v=$(it_psql -Atc "SELECT 'after-kill'" 2>&1) || true
it_check "a new session through the appliance after the kill ('$v')" [ "$v" == after-kill ]

rc=0
rec_offline verify >"$IT_TMP/verify.out" 2>&1 || rc=$?
it_check "tollctl verify --dir: exit 0 ($(tail -n 1 "$IT_TMP/verify.out"))" [ "$rc" -eq 0 ]

it_dut_stop
v=$(it_counter_sum "$IT_TMP/tollgated.$IT_TG_RUN.log" ctl_kill) || v=none
it_check "tollgated counted ctl_kill $v (one kill)" [ "$v" == 1 ]

it_finish
