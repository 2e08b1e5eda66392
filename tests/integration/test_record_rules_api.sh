#!/usr/bin/env bash
# test_record_rules_api.sh - PUT /v1/rules swaps the rules of a running tollgated (an already open psql session sees them at once), a broken rule file is refused with its compile error and changes nothing, /metrics shows the policy version and counters, and the roles are enforced.
#
# tollgated runs the demo configuration (four rule packs) with recording and the HTTPS
# API (tests/integration/data/record_lib.sh). One psql session is opened through the
# appliance and kept open (its input is a FIFO); SELECT 42 runs in it. Then:
#   - GET /v1/rules without a token: 401; PUT with the auditor token: 403 (nothing
#     changes);
#   - PUT /v1/rules (admin) with the four packs as GET returned them plus a file with
#     rule it.select-42 (block ^SELECT\s+42$): 200 with a higher version, which
#     GET /v1/rules and POST /v1/rules/test then report;
#   - in the open session (same backend pid): SELECT 42 is blocked by it.select-42 with
#     its message and SQLSTATE 42501, SELECT 43 runs, DROP TABLE is still blocked by
#     the pack; a fresh session sees the same;
#   - a broken rule file (action "blok"): a 4xx answer that carries the compile error
#     (file, line, rule); the version stays, and SELECT 42 is still blocked in the open
#     session; a stale if_version: 409;
#   - GET /v1/audit lists the rules.put by it-admin with its comment;
#   - GET /metrics: tollgate_policy_version is the version in force, the command
#     counters count the statements, and no counter with "drop" or "lost" in its name
#     is above 0; without a token 401.
# jq filters are in single quotes on purpose: $names there are jq variables.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=data/record_lib.sh
source "$(dirname "$0")/data/record_lib.sh"

it_init record-rules-api

# The open psql session runs in the background: end it on every exit path, by its pid.
SESS_PID=
rules_cleanup() {
	local rc=$?
	set +e
	exec 7>&- 2>/dev/null
	if [[ -n $SESS_PID ]]; then
		kill -TERM "$SESS_PID" 2>/dev/null
		wait "$SESS_PID" 2>/dev/null
	fi
	(exit "$rc") # it_cleanup takes the exit status from $?
	it_cleanup
}
trap rules_cleanup EXIT

rec_init
it_net_up
it_pg_start
rec_srv_psql -c "CREATE TABLE t (id int PRIMARY KEY)" -c "INSERT INTO t VALUES (1), (2)" ||
	it_die "create table t directly on the server"
it_dut_start appliance
rec_wait_api || it_die "the management API did not answer GET /v1/health within 10 s"

# The long-lived session: psql reads its input from a FIFO held open on fd 7 (opened
# read-write, so that opening it never blocks). Each step ends with a line
# "R <name> true <SQLSTATE> <message>" or "R <name> false <SQLSTATE>" on stdout.
sess_out=$IT_TMP/sess.out
mkfifo "$IT_TMP/sess.in"
exec 7<>"$IT_TMP/sess.in"
timeout -k 5 "$(it_left 120)" ip netns exec "$TG_NS_CLIENT" "$IT_PGBIN/psql" -X -At -v ON_ERROR_STOP=0 \
	"${IT_URI/application_name=tg-it/application_name=tg-rec-rules}" <"$IT_TMP/sess.in" >"$sess_out" 2>"$IT_TMP/sess.err" &
SESS_PID=$!

# sess <name> <sql>: runs <sql> in the open session; waits (at most 10 s) for its R line
# and prints it without "R <name> ".
sess() {
	local i
	printf '%s\n\\if :ERROR\n\\echo R %s true :SQLSTATE :LAST_ERROR_MESSAGE\n\\else\n\\echo R %s false :SQLSTATE\n\\endif\n' \
		"$2" "$1" "$1" >&7
	for ((i = 0; i < 100; i++)); do
		if grep -q "^R $1 " "$sess_out"; then
			sed -n "s/^R $1 //p" "$sess_out" | head -n 1
			return 0
		fi
		kill -0 "$SESS_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "(no answer)"
	return 1
}

pid1=$(sess pid1 "SELECT 'pid1', pg_backend_pid();") || true
v=$(sess before42 "SELECT 42;") || true
it_check "open session: SELECT 42 runs before the change ('$v')" \
	bash -c "[[ '$v' == 'false 00000' ]] && grep -qx 42 '$sess_out'"

# The rules in force.
rec_get /v1/rules || it_die "GET /v1/rules: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/rules0.json"
v0=$(jq -r '.version' "$IT_TMP/rules0.json")
it_check "GET /v1/rules (auditor): version $v0, the 4 pack files" \
	[ "$(jq -r '[.files[].name] | sort | join(" ")' "$IT_TMP/rules0.json")" == "destructive.conf exfiltration.conf pii.conf privilege.conf" ]

cat >"$IT_TMP/it-block42.conf" <<'RULES'
# it-block42.conf - test_record_rules_api.sh: blocks SELECT 42 and nothing else.
rules = (
	{ id = "it.select-42"; action = "block"; target = "statement";
	  patterns = [ "^SELECT\\s+42$" ]; message = "the answer is not for you"; }
);
RULES
jq -n --slurpfile cur "$IT_TMP/rules0.json" --rawfile text "$IT_TMP/it-block42.conf" \
	'{files: ([$cur[0].files[] | {name, text}] + [{name: "it-block42.conf", text: $text}]),
	  comment: "it: block SELECT 42"}' >"$IT_TMP/put.json" || it_die "PUT body"

# The wrong tokens first: nothing may change.
rec_api GET /v1/rules none
it_check "GET /v1/rules without a token: 401 (got $REC_CODE)" [ "$REC_CODE" == 401 ]
rec_api PUT /v1/rules none "$IT_TMP/put.json"
it_check "PUT /v1/rules without a token: 401 (got $REC_CODE)" [ "$REC_CODE" == 401 ]
rec_api PUT /v1/rules auditor "$IT_TMP/put.json"
it_check "PUT /v1/rules with the auditor token: 403 (got $REC_CODE: $(head -c 120 "$REC_OUT"))" [ "$REC_CODE" == 403 ]
rec_get /v1/rules || true
it_check "after the refused PUTs the version is still $v0" [ "$(jq -r .version "$REC_OUT")" == "$v0" ]
v=$(sess refused42 "SELECT 42;") || true
it_check "after the refused PUTs SELECT 42 still runs ('$v')" [ "$v" == "false 00000" ]

# The change.
rec_api PUT /v1/rules admin "$IT_TMP/put.json"
v1=$(jq -r '.version // empty' "$REC_OUT" 2>/dev/null) || v1=
it_check "PUT /v1/rules (admin) with the packs and it-block42.conf: 200, version ${v1:-?} > $v0 ($REC_CODE: $(head -c 200 "$REC_OUT"))" \
	bash -c "[[ '$REC_CODE' == 200 && -n '$v1' && '$v1' -gt '$v0' ]]"
rec_get /v1/rules || true
it_check "GET /v1/rules: version $v1 with it-block42.conf among 5 files" \
	rec_jq --argjson v "${v1:-0}" '.version == $v and (.files | length) == 5 and any(.files[]; .name == "it-block42.conf")' "$REC_OUT"
echo '{"sql": "SELECT 42; SELECT 43"}' >"$IT_TMP/test.json"
rec_api POST /v1/rules/test auditor "$IT_TMP/test.json"
v=$(jq -c '[.policy_version, (.statements[] | [.action, .rule])]' "$REC_OUT" 2>/dev/null) || v="$REC_CODE"
it_check "POST /v1/rules/test: SELECT 42 block it.select-42, SELECT 43 allow, policy $v1 ($v)" \
	[ "$v" == "[${v1:-0},[\"block\",\"it.select-42\"],[\"allow\",null]]" ]

v=$(sess after42 "SELECT 42;") || true
it_check "open session after the PUT: SELECT 42 blocked by it.select-42 ('$v')" \
	[ "$v" == "true 42501 blocked by policy rule it.select-42: the answer is not for you" ]
v=$(sess after43 "SELECT 43;") || true
it_check "open session after the PUT: SELECT 43 runs ('$v')" \
	bash -c "[[ '$v' == 'false 00000' ]] && grep -qx 43 '$sess_out'"
v=$(sess drop "DROP TABLE t;") || true
it_check "open session after the PUT: DROP TABLE still blocked by the pack ('${v:0:60}')" \
	[ "${v%%:*}" == "true 42501 blocked by policy rule sql.drop-table" ]
v=$(it_psql -v ON_ERROR_STOP=0 -Atc "SELECT 42" 2>&1) || true
it_check "a fresh session: SELECT 42 blocked too" grep -q 'blocked by policy rule it.select-42' <<<"$v"

# A broken file: refused with the compiler's message, nothing changes.
printf 'rules = (\n\t{ id = "it.bad"; action = "blok"; patterns = [ "x" ]; }\n);\n' >"$IT_TMP/broken.conf"
jq -n --rawfile text "$IT_TMP/broken.conf" '{files: [{name: "broken.conf", text: $text}]}' >"$IT_TMP/put-broken.json"
rec_api PUT /v1/rules admin "$IT_TMP/put-broken.json"
cp "$REC_OUT" "$IT_TMP/put-broken.out"
it_check "PUT /v1/rules with a broken file: a 4xx answer (got $REC_CODE: $(head -c 200 "$REC_OUT"))" \
	bash -c "[[ '$REC_CODE' == 4[0-9][0-9] ]]"
it_check "PUT /v1/rules with a broken file: the answer carries the compile error (broken.conf:2, rule it.bad, \"blok\")" \
	bash -c "grep -q 'broken.conf:2' '$IT_TMP/put-broken.out' && grep -q 'it.bad' '$IT_TMP/put-broken.out' && grep -q 'blok' '$IT_TMP/put-broken.out'"
it_check "the broken file's compile error is in tollgated's log" \
	grep -q 'broken.conf[^"]*:2: rule it.bad: action \\"blok\\"' "$IT_TMP/tollgated.$IT_TG_RUN.log"
rec_get /v1/rules || true
it_check "after the broken PUT the version is still $v1 with it-block42.conf" \
	rec_jq --argjson v "${v1:-0}" '.version == $v and any(.files[]; .name == "it-block42.conf")' "$REC_OUT"
v=$(sess broken42 "SELECT 42;") || true
it_check "after the broken PUT SELECT 42 is still blocked in the open session ('${v%%:*}')" \
	[ "${v%%:*}" == "true 42501 blocked by policy rule it.select-42" ]
jq --argjson v "$v0" '. + {if_version: $v}' "$IT_TMP/put.json" >"$IT_TMP/put-stale.json"
rec_api PUT /v1/rules admin "$IT_TMP/put-stale.json"
it_check "PUT /v1/rules with a stale if_version $v0: 409 (got $REC_CODE: $(head -c 120 "$REC_OUT"))" [ "$REC_CODE" == 409 ]

pid2=$(sess pid2 "SELECT 'pid2', pg_backend_pid();") || true
p1=$(sed -n 's/^pid1|//p' "$sess_out") p2=$(sed -n 's/^pid2|//p' "$sess_out")
it_check "the open session was one connection throughout (backend pid $p1 = $p2)" \
	bash -c "[[ -n '$p1' && '$p1' == '$p2' && '$pid1' == 'false 00000' && '$pid2' == 'false 00000' ]]"
printf '\\q\n' >&7
exec 7>&-
rc=0
wait "$SESS_PID" || rc=$?
SESS_PID=
it_check "the open session ended with \\q (status $rc)" [ "$rc" -eq 0 ]

rec_get /v1/audit || true
v=$(jq -c '[.audit[] | select(.action == "rules.put") | {who, comment: .detail.comment, result: .detail.result}]' "$REC_OUT" 2>/dev/null) || v=
it_check "GET /v1/audit: the accepted rules.put by it-admin with its comment ($v)" \
	rec_jq 'any(.[]; .who == "it-admin" and .comment == "it: block SELECT 42" and (.result // "ok") == "ok")' <<<"$v"

# Metrics.
rec_api GET /metrics none
it_check "GET /metrics without a token: 401 (got $REC_CODE)" [ "$REC_CODE" == 401 ]
rec_get /metrics || it_fail "GET /metrics: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/metrics.txt"
v=$(awk '$1 == "tollgate_policy_version" { print $2 }' "$IT_TMP/metrics.txt")
it_check "GET /metrics: tollgate_policy_version $v is the version in force ($v1)" [ "$v" == "$v1" ]
# cmd_seen / cmd_blocked: by name, summed over workers
msum() {
	awk -v n="$1" '{ split($1, a, "{") } a[1] == n { s += $2 } END { print s + 0 }' "$IT_TMP/metrics.txt"
}
seen=$(msum tollgate_cmd_seen_total) blocked=$(msum tollgate_cmd_blocked_total)
# blocked: DROP, SELECT 42 twice in the session, once in the fresh one
it_check "GET /metrics: command counters (cmd_seen $seen >= 10, cmd_blocked $blocked = 4)" \
	bash -c "[[ $seen -ge 10 && $blocked -eq 4 ]]"
# per port (issue 2): the blocks are counted on the port the statements came in on
v=$(awk '$1 == "tollgate_port_cmd_blocked_total{port=\"client\"}" { print $2 }' "$IT_TMP/metrics.txt")
w=$(awk '$1 == "tollgate_port_cmd_blocked_total{port=\"server\"}" { print $2 }' "$IT_TMP/metrics.txt")
it_check "GET /metrics: cmd_blocked per port (client ${v:-none}, server ${w:-none}; expected 4 and 0)" \
	bash -c "[[ '${v:-}' == 4 && '${w:-}' == 0 ]]"
rec_get /v1/stats || it_fail "GET /v1/stats: status $REC_CODE"
v=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"]["client"]["cmd_blocked"])' "$REC_OUT" 2>/dev/null)
w=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["cmd_blocked"])' "$REC_OUT" 2>/dev/null)
it_check "GET /v1/stats: ports.client.cmd_blocked ${v:-none} = total.cmd_blocked ${w:-none} = 4" \
	bash -c "[[ '${v:-}' == 4 && '${w:-}' == 4 ]]"
# verdicts by rule: the three SELECT 42 blocks are counted under their rule
v=$(awk '$1 == "tollgate_rule_verdicts_total{rule=\"it.select-42\",action=\"block\"}" { print $2 }' "$IT_TMP/metrics.txt")
it_check "GET /metrics: verdicts by rule (it.select-42 block = ${v:-none}, expected 3)" [ "${v:-0}" == 3 ]
v=$(grep -c '^# TYPE tollgate_' "$IT_TMP/metrics.txt" || true)
it_check "GET /metrics: Prometheus text with TYPE lines ($v), recorder and API metrics included" \
	bash -c "[[ $v -ge 20 ]] && grep -q '^tollgate_recorder_events_written_total [1-9]' '$IT_TMP/metrics.txt' && grep -q '^tollgate_api_requests_total' '$IT_TMP/metrics.txt'"
# by metric name only: label values (rule ids such as sql.drop-table) do not count
nonzero=$(awk '!/^#/ { split($1, a, "{") } !/^#/ && a[1] ~ /drop|lost/ && $2 + 0 > 0 { print $1 "=" $2 }' "$IT_TMP/metrics.txt" | tr '\n' ' ')
n_drop=$(awk '!/^#/ { split($1, a, "{") } !/^#/ && a[1] ~ /drop|lost/' "$IT_TMP/metrics.txt" | wc -l)
it_check "GET /metrics: no drop or lost counter above 0 ($n_drop series; ${nonzero:-all 0})" \
	bash -c "[[ $n_drop -gt 0 && -z '$nonzero' ]]"

it_dut_stop
it_finish
