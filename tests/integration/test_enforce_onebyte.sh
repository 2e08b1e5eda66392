#!/usr/bin/env bash
# test_enforce_onebyte.sh - a client that sends every protocol byte in its own TCP segment is judged and masked exactly like psql.
#
# tollgated runs the demo configuration with its four rule packs. tests/tools/pg_onebyte
# sends the start-up, the password and each query one byte per segment, so the
# appliance must reassemble every message before judging it. In one session:
# DROP TABLE t is blocked (ERROR 42501 naming sql.drop-table), SELECT 1 then works,
# and a SELECT of a table with card numbers comes back masked exactly as it does
# through psql. t still exists afterwards.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

it_init enforce-onebyte
it_net_up
it_pg_start

onebyte=$TG_ROOT/$TG_BUILD_DIR/tests/tools/pg_onebyte
[[ -x $onebyte ]] || it_die "pg_onebyte not built ($onebyte)"

# srv_psql [psql args]: psql as the test role straight to the server, from inside the
# server namespace (not through the appliance), bounded.
srv_psql() {
	PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 60)" ip netns exec "$TG_NS_SERVER" \
		"$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

# pg_onebyte speaks md5, not SCRAM: store the test role's password as md5.
tg_pg_admin "$IT_PG" -d postgres -c "SET password_encryption = 'md5'" \
	-c "ALTER ROLE $IT_USER PASSWORD '$IT_PASSWORD'" >/dev/null || it_die "md5 password for $IT_USER"

srv_psql -f - <<'SQL' || it_die "create tables directly on the server"
CREATE TABLE t (id int PRIMARY KEY);
INSERT INTO t SELECT generate_series(1, 5);
CREATE TABLE cards (id int PRIMARY KEY, card text, ssn text, email text);
INSERT INTO cards VALUES
	(1, '4111 1111 1111 1111', '123-45-6789', 'jane.doe@example.com'),
	(2, '5500 0000 0000 0004', '219-09-9999', 'bob@mail.example.org'),
	(3, '4111111111111111', '078-05-1120', 'x@y.io'),
	(4, '4111 1111 1111 1112', '000-12-3456', 'not an address');
SQL
query="SELECT id, card, ssn, email FROM cards ORDER BY id"
masked=$(
	cat <<'EOF'
1|**** **** **** 1111|***-**-****|j***.***@*******.***
2|**** **** **** 0004|***-**-****|b**@****.*******.***
3|************1111|***-**-****|x@*.**
4|4111 1111 1111 1112|***-**-****|not an address
EOF
)

it_dut_start appliance

rc=0
it_client "$onebyte" "$TG_IP_SERVER" 5432 "$IT_USER" "$IT_DB" "$IT_PASSWORD" \
	"DROP TABLE t" "SELECT 1" "$query" >"$IT_TMP/onebyte.out" 2>&1 || rc=$?
out=$IT_TMP/onebyte.out
it_check "pg_onebyte session ended normally (status $rc, 3 ReadyForQuery after the start-up's)" \
	[ "$rc" -eq 0 -a "$(grep -c '^READY ' "$out")" -eq 4 ]
# answer lines of the n-th query (1-based): between the n-th and (n+1)-th READY
answer() {
	awk -v n="$1" '/^READY / { k++; next } k == n' "$out"
}
a=$(answer 1)
if [[ $a == "ERROR 42501 blocked by policy rule sql.drop-table: "* ]]; then
	it_pass "one byte per segment: DROP TABLE t blocked by sql.drop-table ($a)"
else
	it_fail "one byte per segment: DROP TABLE t: want 'ERROR 42501 blocked by policy rule sql.drop-table: ...', got '$a'"
fi
a=$(answer 2)
it_check "one byte per segment: SELECT 1 after the blocked statement works" \
	[ "$a" == $'COLUMNS ?column?\nROW 1\nCOMPLETE SELECT 1' ]
rows=$(answer 3 | sed -n 's/^ROW //p')
v=$(it_psql -At -F '|' -c "$query" 2>&1) || true
if [[ $rows == "$masked" && $v == "$masked" ]]; then
	it_pass "one byte per segment: the cards table comes back masked exactly as through psql"
else
	it_fail "one byte per segment: masked rows differ (want, pg_onebyte, psql):"
	printf '%s\n--\n%s\n--\n%s\n' "$masked" "$rows" "$v" | sed 's/^/    /'
fi
if [[ $rc -ne 0 ]]; then
	sed 's/^/    | /' "$out" | tail -n 20
fi

v=$(it_psql -Atc "SELECT count(*) FROM t" 2>&1) || true
it_check "t still exists with its 5 rows ('$v')" [ "$v" == 5 ]

it_dut_stop
v=$(it_counter_sum "$IT_TMP/tollgated.$IT_TG_RUN.log" cmd_blocked) || v=none
it_check "tollgated counted cmd_blocked $v, want 1" [ "$v" == 1 ]

it_finish
