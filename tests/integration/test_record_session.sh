#!/usr/bin/env bash
# test_record_session.sh - a psql session through tollgated is recorded (API, replay, CSV export) with its verdicts and result summaries, its hash chain verifies, and one altered byte in the store is found.
#
# tollgated runs the demo configuration (four rule packs) with recording on and the
# HTTPS API (tests/integration/data/record_lib.sh). One psql session, application
# name "tg-rec-session", sends a SELECT, a DROP TABLE (blocked by sql.drop-table), a
# SELECT of card numbers (two of three fields masked by pii.card; the third fails the
# Luhn check), an INSERT holding the marker literal 'MARKER12345' and an e-mail
# address (recorded masked: recorder.mask_statements) and an UPDATE ... WHERE. Then, with the auditor token:
#   - GET /v1/sessions (and its user/resource/verdict filters) lists the session with
#     the right user, database, application, resource, addresses and counts;
#   - GET /v1/sessions/{id}/events has every statement in order, with its verdict and
#     rule, each allowed one followed by its result summary (rows, masked fields, tag),
#     open/auth first and close last, sequence numbers 0..n-1, and the session's chain
#     head equal to the last event's hash;
#   - tollctl replay shows the statements in order, BLOCK sql.drop-table under the DROP;
#   - tollctl recordings export --format csv has a header and one line per event;
#   - tollctl verify --dir passes while tollgated runs and after it stopped.
# Then, tollgated stopped, the marker's bytes in data.mdb are changed by hand
# (MARKER12345 -> MARKER12346, every copy LMDB left in the file): tollctl verify must
# fail (exit 1) and name the session and the INSERT's sequence number.
# jq filters are in single quotes on purpose: $names there are jq variables.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=data/record_lib.sh
source "$(dirname "$0")/data/record_lib.sh"

it_init record-session
rec_init
it_net_up
it_pg_start

rec_srv_psql -c "CREATE TABLE cards (id int PRIMARY KEY, name text, card text)" \
	-c "INSERT INTO cards VALUES (1, 'alice', '4111 1111 1111 1111'), (2, 'bob', '5500 0000 0000 0004'), (3, 'carol', '4111 1111 1111 1112')" ||
	it_die "create table cards directly on the server"

it_dut_start appliance
rec_wait_api || it_die "the management API did not answer GET /v1/health within 10 s"

app=tg-rec-session
uri=${IT_URI/application_name=tg-it/application_name=$app}
sql=$IT_TMP/session.sql
cat >"$sql" <<'SQL'
\set QUIET 1
SELECT count(*) FROM cards;
DROP TABLE cards;
SELECT id, card FROM cards ORDER BY id;
INSERT INTO cards VALUES (4, 'MARKER12345', 'jane@example.com');
UPDATE cards SET name = 'updated' WHERE id = 4;
SQL
out=$IT_TMP/session.out
rc=0
it_client "$IT_PGBIN/psql" -X -v ON_ERROR_STOP=0 -At -f "$sql" "$uri" >"$out" 2>"$IT_TMP/session.err" || rc=$?
want=$(printf '%s\n' 3 '1|**** **** **** 1111' '2|**** **** **** 0004' '3|4111 1111 1111 1112')
if [[ $rc -eq 0 && $(cat "$out") == "$want" ]] &&
	grep -q 'blocked by policy rule sql.drop-table' "$IT_TMP/session.err"; then
	it_pass "psql session through the appliance: DROP blocked, two card numbers masked, the rest ran"
else
	it_fail "psql session (status $rc): unexpected output:"
	sed 's/^/    | /' "$out" "$IT_TMP/session.err"
fi

# The session, found by its application name once its close is recorded.
sid=
find_session() {
	rec_get "/v1/sessions?user=$IT_USER&resource=pg" || return 1
	sid=$(jq -r --arg app "$app" '[.sessions[] | select(.app == $app and .live == false)][0].id // empty' "$REC_OUT")
	[[ -n $sid ]]
}
if rec_until 50 0.1 find_session; then
	it_pass "GET /v1/sessions?user=$IT_USER&resource=pg lists the closed session $sid (application $app)"
else
	it_die "no closed session of application $app in GET /v1/sessions within 5 s (last status $REC_CODE): $(head -c 300 "$REC_OUT")"
fi

rec_get "/v1/sessions/$sid" || it_fail "GET /v1/sessions/$sid: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/session.json"
fields=$(jq -r '[.user, .database, .app, .resource, .proto, .client, .server, .server_port,
	.commands, .blocked, .masked, .rows, .live, .close_reason, (.verdicts | sort | join("+"))] | map(tostring) | join(" ")' \
	"$IT_TMP/session.json" 2>/dev/null) || fields=
want="$IT_USER $IT_DB $app pg postgresql $TG_IP_CLIENT $TG_IP_SERVER 5432 5 1 2 4 false fin allow+block"
it_check "session $sid: user, database, application, resource, addresses, 5 commands, 1 blocked, 2 masked, 4 rows, closed by fin ('$fields')" \
	[ "$fields" == "$want" ]

# The list filters: by verdict (only this session blocked anything) and by user.
rec_get "/v1/sessions?verdict=block" || true
v=$(jq -r '[.sessions[].id] | join(" ")' "$REC_OUT" 2>/dev/null) || v="status $REC_CODE"
it_check "GET /v1/sessions?verdict=block lists this session only ('$v')" [ "$v" == "$sid" ]
rec_get "/v1/sessions?user=nobody-$RANDOM" || true
v=$(jq -r '.sessions | length' "$REC_OUT" 2>/dev/null) || v="status $REC_CODE"
it_check "GET /v1/sessions?user=<unknown> lists no session ('$v')" [ "$v" == 0 ]

# The events, one line each: "seq type action rule rows masked tag | text".
rec_get "/v1/sessions/$sid/events" || it_fail "GET /v1/sessions/$sid/events: status $REC_CODE"
cp "$REC_OUT" "$IT_TMP/events.json"
jq -r '.events[] | "\(.seq) \(.type) \(.action // "-") \(if (.rule // "") == "" then "-" else .rule end) \(.rows // "-") \(.masked // "-") \(.tag // "-") | \(.text // .user // .reason // "")"' \
	"$IT_TMP/events.json" >"$IT_TMP/events.txt" 2>/dev/null || true
# one ERE per event, in order (statement texts are recorded normalized)
want_re=(
	'^0 open - - - - - \| $'
	"^1 auth - - - - - \\| $IT_USER\$"
	'^2 command allow - - - - \| SELECT COUNT ?\(\*\) FROM CARDS$'
	'^3 rows - - - - - \| 3$'
	'^4 result - - 1 0 SELECT 1 \| $'
	'^5 command block sql\.drop-table - - - \| DROP TABLE CARDS$'
	'^6 command allow - - - - \| SELECT ID, CARD FROM CARDS ORDER BY ID$'
	'^7 rows - - - - - \| 1\|\*\*\*\* \*\*\*\* \*\*\*\* 1111$'
	'^8 rows - - - - - \| 2\|\*\*\*\* \*\*\*\* \*\*\*\* 0004$'
	'^9 rows - - - - - \| 3\|4111 1111 1111 1112$'
	'^10 result - - 3 2 SELECT 3 \| $'
	"^11 command allow - - - - \\| INSERT INTO CARDS VALUES \\(4, 'MARKER12345', 'j\\*\\*\\*@\\*\\*\\*\\*\\*\\*\\*\\.\\*\\*\\*'\\)\$"
	'^12 result - - 0 0 INSERT 0 1 \| $'
	"^13 command allow - - - - \\| UPDATE CARDS SET NAME = 'updated' WHERE ID = 4\$"
	'^14 result - - 0 0 UPDATE 1 \| $'
	'^15 close - - - - - \| fin$'
)
mapfile -t got <"$IT_TMP/events.txt"
mismatch=
for ((i = 0; i < ${#want_re[@]} || i < ${#got[@]}; i++)); do
	if [[ $i -ge ${#want_re[@]} || $i -ge ${#got[@]} ]] || ! grep -qE -- "${want_re[$i]}" <<<"${got[$i]}"; then
		mismatch="event $i: got '${got[$i]:-(none)}', want /${want_re[$i]:-(none)}/"
		break
	fi
done
if [[ -z $mismatch ]]; then
	it_pass "GET /v1/sessions/$sid/events: open, auth, the 5 statements in order with verdicts, rule, the rows as the client got them (masked) and result summaries, close (seq 0-15)"
else
	it_fail "GET /v1/sessions/$sid/events: $mismatch; all events:"
	sed 's/^/    | /' "$IT_TMP/events.txt"
fi
v=$(jq -r --slurpfile s "$IT_TMP/session.json" \
	'(.events | length) == $s[0].next_seq and .events[-1].hash == $s[0].chain and .next == null' \
	"$IT_TMP/events.json" 2>/dev/null) || v=error
it_check "the session's next_seq and chain head match its last event (count and hash)" [ "$v" == true ]

# tollctl replay: the statements in order, each with its verdict line.
rc=0
rec_ctl replay "$sid" >"$IT_TMP/replay.out" 2>&1 || rc=$?
awk '/^ *\+[0-9.]+s  > / { sub(/^ *\+[0-9.]+s  > /, ""); printf "> %s\n", $0; next }
	/^ +(ALLOW|BLOCK|MASK|ALERT|REVIEW|RESET)( |$)/ { sub(/^ +/, ""); print }' \
	"$IT_TMP/replay.out" >"$IT_TMP/replay.cmds"
want=$(printf '%s\n' '> SELECT COUNT (*) FROM CARDS' ALLOW '> DROP TABLE CARDS' 'BLOCK sql.drop-table' \
	'> SELECT ID, CARD FROM CARDS ORDER BY ID' ALLOW "> INSERT INTO CARDS VALUES (4, 'MARKER12345', 'j***@*******.***')" ALLOW \
	"> UPDATE CARDS SET NAME = 'updated' WHERE ID = 4" ALLOW)
if [[ $rc -eq 0 && $(sed 's/COUNT(\*)/COUNT (*)/' "$IT_TMP/replay.cmds") == "$want" ]] &&
	grep -q '< SELECT 3: 3 rows, 2 fields masked' "$IT_TMP/replay.out"; then
	it_pass "tollctl replay $sid: the statements in order, BLOCK sql.drop-table under the DROP, 2 fields masked"
else
	it_fail "tollctl replay $sid (status $rc):"
	sed 's/^/    | /' "$IT_TMP/replay.out"
fi

# Offline, while tollgated runs.
rc=0
rec_offline verify >"$IT_TMP/verify1.out" 2>&1 || rc=$?
it_check "tollctl verify --dir while tollgated runs: exit 0, $sid OK ($(tail -n 1 "$IT_TMP/verify1.out"))" \
	bash -c "[[ $rc -eq 0 ]] && grep -qx '$sid  OK' '$IT_TMP/verify1.out'"

rc=0
rec_offline recordings export "$sid" --format csv >"$IT_TMP/export.csv" 2>&1 || rc=$?
n_ev=$(jq '.events | length' "$IT_TMP/events.json" 2>/dev/null) || n_ev=0
# seq column of every line after the header, which must be 0..n-1
seqs=$(tail -n +2 "$IT_TMP/export.csv" | cut -d, -f1 | tr -d '\r' | tr '\n' ' ')
if [[ $rc -eq 0 && $(wc -l <"$IT_TMP/export.csv") -eq $((n_ev + 1)) && $n_ev -gt 0 &&
	$(head -n 1 "$IT_TMP/export.csv") == $'seq,time,type,action,rule,text\r' &&
	$seqs == "$(seq -s ' ' 0 $((n_ev - 1))) " ]] &&
	grep -q '^5,[^,]*,command,block,sql.drop-table,DROP TABLE CARDS' "$IT_TMP/export.csv"; then
	it_pass "tollctl recordings export $sid --format csv: header and one line per event ($n_ev), the DROP as block,sql.drop-table"
else
	it_fail "tollctl recordings export $sid --format csv (status $rc, $n_ev events):"
	sed 's/^/    | /' "$IT_TMP/export.csv" | head -n 20
fi

# Result rows are recorded as the client got them: masked cards, the bad-Luhn one clear.
rec_get "/v1/sessions/$sid/events?limit=1000" || it_fail "GET events: status $REC_CODE"
rows=$(jq -r '[.events[] | select(.type == "rows") | .text] | join("")' "$REC_OUT")
rows=$(jq -r '[.events[] | select(.type == "rows") | .text] | join("\n")' "$REC_OUT")
if grep -q '^1|\*\*\*\* \*\*\*\* \*\*\*\* 1111$' <<<"$rows" &&
	grep -q '^3|4111 1111 1111 1112$' <<<"$rows" && ! grep -q '4111 1111 1111 1111' <<<"$rows"; then
	it_pass "rows events hold the result as the client got it (masked cards, the invalid one clear)"
else
	it_fail "rows events: $(head -c 300 <<<"$rows")"
fi

# A prepared statement executed three times: its text once (Parse), and each execution.
printf 'SELECT 7;\n' >"$IT_TMP/prep.sql"
psql_sid=$sid psql_app=$app
if it_pgbench -n -M prepared -t 3 -c 1 -f "$IT_TMP/prep.sql" >"$IT_TMP/prep.out" 2>&1; then
	app=pgbench
	if rec_until 50 0.1 find_session && rec_get "/v1/sessions/$sid/events?limit=1000"; then
		n_exec=$(jq '[.events[] | select(.type == "command" and ((.text // "") | startswith("EXECUTE PREPARED")))] | length' "$REC_OUT")
		n_sel=$(jq '[.events[] | select(.type == "command" and .text == "SELECT 7")] | length' "$REC_OUT")
		it_check "pgbench -M prepared: the statement once (${n_sel}) and every execution recorded (${n_exec} of 3)" \
			bash -c "[[ $n_sel -ge 1 && $n_exec -eq 3 ]]"
	else
		it_fail "pgbench -M prepared: its session was not recorded (status $REC_CODE)"
	fi
else
	it_fail "pgbench -M prepared through the appliance failed: $(tail -n 3 "$IT_TMP/prep.out")"
fi
sid=$psql_sid app=$psql_app

it_dut_stop

rc=0
rec_offline verify >"$IT_TMP/verify2.out" 2>&1 || rc=$?
it_check "tollctl verify --dir after tollgated stopped: exit 0, every session OK ($(tail -n 1 "$IT_TMP/verify2.out"))" \
	bash -c "[[ $rc -eq 0 ]] && grep -qx '$sid  OK' '$IT_TMP/verify2.out' && ! grep -q FAILED '$IT_TMP/verify2.out'"

# Tamper: one character of the INSERT's text, in every copy LMDB's copy-on-write left
# in the file (the live one among them).
marker_seq=$(jq -r '[.events[] | select(.type == "command" and ((.text // "") | contains("MARKER12345")))][0].seq' \
	"$IT_TMP/events.json" 2>/dev/null) || marker_seq=
n=$(python3 - "$REC_DIR/data.mdb" <<'PY'
import sys
path = sys.argv[1]
with open(path, "r+b") as f:
    data = f.read()
    n = data.count(b"MARKER12345")
    f.seek(0)
    f.write(data.replace(b"MARKER12345", b"MARKER12346"))
print(n)
PY
) || n=0
it_check "the marker's bytes were found and changed in data.mdb ($n copies)" [ "${n:-0}" -ge 1 ]

rc=0
rec_offline verify >"$IT_TMP/verify3.out" 2>&1 || rc=$?
if [[ $rc -eq 1 && -n $marker_seq ]] && grep -qx "$sid  FAILED at event $marker_seq: .*" "$IT_TMP/verify3.out" &&
	grep -q '1 failed' "$IT_TMP/verify3.out"; then
	it_pass "tollctl verify after the change: exit 1, names session $sid and event $marker_seq ($(grep "^$sid" "$IT_TMP/verify3.out"))"
else
	it_fail "tollctl verify after the change: status $rc, want exit 1 and '$sid  FAILED at event ${marker_seq:-?}', got:"
	sed 's/^/    | /' "$IT_TMP/verify3.out"
fi
rc=0
rec_offline verify "$sid" >"$IT_TMP/verify4.out" 2>&1 || rc=$?
it_check "tollctl verify $sid after the change: exit 1 ($(head -n 1 "$IT_TMP/verify4.out"))" \
	bash -c "[[ $rc -eq 1 ]] && grep -q '^$sid  FAILED at event $marker_seq' '$IT_TMP/verify4.out'"
# the other sessions (the harness's path checks) were not touched
others=$(grep -c '^[0-9a-f]\{16\}  OK$' "$IT_TMP/verify3.out" || true)
it_check "tollctl verify after the change: the other sessions still verify ($others OK)" \
	[ "$others" -eq "$(($(grep -c '^[0-9a-f]\{16\}  ' "$IT_TMP/verify2.out") - 1))" ]

# the statements reached the server, the DROP did not
v=$(rec_srv_psql -Atc "SELECT count(*), max(name) FILTER (WHERE id = 4) FROM cards" 2>&1) || true
it_check "directly on the server: cards exists with 4 rows, row 4 updated ('$v')" [ "$v" == "4|updated" ]

it_finish
