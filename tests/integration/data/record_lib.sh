# shellcheck shell=bash
# record_lib.sh - shared part of the test_record_*.sh scripts: a tollgated config with recording and the HTTPS API, tokens, API and tollctl calls (sourced after lib.sh).
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/data/record_lib.sh"
#   it_init NAME; rec_init; it_net_up; it_pg_start; it_dut_start appliance; rec_wait_api
#
# rec_init writes $IT_TMP/base.conf: appliance/demo.conf (workers, ports, rule packs,
# resources) with its recorder and management sections replaced by this run's (the
# store in $IT_TMP/rec, the API on 127.0.0.1 at a free port, state in $IT_TMP/state,
# two fresh random tokens: "it-admin" (admin) and "it-auditor" (auditor)), and points
# TG_IT_CONF at it, so that lib.sh's it_tg_conf starts from it. Nothing is shared with
# another run or with the demo: its own store, port, certificate and tokens.

REC_TOLLCTL=${TG_TOLLCTL:-$TG_ROOT/$TG_BUILD_DIR/mgmt/tollctl}
REC_HTTP=$TG_ROOT/tests/integration/data/record_http.py
REC_DIR=
REC_STATE=
REC_URL=
REC_CERT=
REC_CODE=
REC_OUT=

# rec_free_port: prints a TCP port in 20000-59999 that nothing listens on in the root
# namespace (a bounded number of tries).
rec_free_port() {
	local i p
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# rec_token <file>: writes a fresh random token (64 hex digits) to <file>, mode 0600,
# and prints its SHA-256 (what the configuration keeps).
rec_token() {
	(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1") || return 1
	tr -d '\n' <"$1" | sha256sum | cut -d' ' -f1
}

rec_init() {
	local port appdir h_admin h_auditor
	[[ -x $REC_TOLLCTL ]] || it_die "tollctl not built ($REC_TOLLCTL)"
	command -v python3 >/dev/null || it_die "python3 not found (the API test client)"
	command -v jq >/dev/null || it_die "jq not found"
	port=$(rec_free_port) || it_die "no free TCP port for the API"
	REC_DIR=$IT_TMP/rec
	REC_STATE=$IT_TMP/state
	REC_URL=https://127.0.0.1:$port
	REC_CERT=$REC_STATE/api-cert.pem
	REC_OUT=$IT_TMP/api.out
	mkdir -m 700 "$REC_DIR" "$REC_STATE" || it_die "recorder and state directories"
	h_admin=$(rec_token "$IT_TMP/admin.token") || it_die "admin token"
	h_auditor=$(rec_token "$IT_TMP/auditor.token") || it_die "auditor token"
	appdir=$(cd "$(dirname "$TG_IT_CONF")" && pwd)
	sed -e '/^recorder[[:space:]]*=[[:space:]]*{/,/^};/d' \
		-e '/^management[[:space:]]*=[[:space:]]*{/,/^};/d' \
		-e "s|\"\\(\\.\\.\\{0,1\\}/\\)|\"$appdir/\\1|g" \
		"$TG_IT_CONF" >"$IT_TMP/base.conf" || it_die "test config"
	cat >>"$IT_TMP/base.conf" <<-CONF
		recorder = {
			dir = "$REC_DIR";
			map_size = "64m";
			result_bytes = 4096;
		};
		management = {
			listen = "127.0.0.1:$port";
			state_dir = "$REC_STATE";
			tokens = (
				{ name = "it-admin"; role = "admin"; sha256 = "$h_admin"; },
				{ name = "it-auditor"; role = "auditor"; sha256 = "$h_auditor"; }
			);
		};
	CONF
	if [[ $(grep -c '^recorder = {\|^management = {' "$IT_TMP/base.conf") -ne 2 ]]; then
		it_die "test config: recorder and management sections"
	fi
	TG_IT_CONF=$IT_TMP/base.conf
	it_log "recorder $REC_DIR, API $REC_URL"
}

# rec_api <METHOD> <path> <admin|auditor|none> [body file]: one request; sets REC_CODE
# (the HTTP status, 000 when no answer) and leaves the body in $REC_OUT.
rec_api() {
	local tok=-
	[[ $3 != none ]] && tok=$IT_TMP/$3.token
	REC_CODE=$(timeout -k 2 "$(it_left 15)" python3 "$REC_HTTP" "$1" "$REC_URL$2" "$REC_CERT" \
		"$tok" "${4:--}" "$REC_OUT" 10) || true
	[[ -n $REC_CODE ]] || REC_CODE=000
}

# rec_get <path> [token]: GET with the auditor token (or the one named); true on 200.
rec_get() {
	rec_api GET "$1" "${2:-auditor}"
	[[ $REC_CODE == 200 ]]
}

# rec_wait_api: waits (at most 100 x 0.1 s) until GET /v1/health answers 200.
rec_wait_api() {
	local i
	for ((i = 0; i < 100; i++)); do
		if [[ -s $REC_CERT ]]; then
			rec_api GET /v1/health none
			[[ $REC_CODE == 200 ]] && return 0
		fi
		it_tg_running || return 1
		sleep 0.1
	done
	return 1
}

# rec_ctl [tollctl args]: tollctl against this run's API with the auditor token (or
# REC_TOKEN=admin), bounded.
rec_ctl() {
	timeout -k 2 "$(it_left 30)" "$REC_TOLLCTL" --url "$REC_URL" --cacert "$REC_CERT" \
		--token-file "$IT_TMP/${REC_TOKEN:-auditor}.token" --timeout 10 "$@"
}

# rec_offline [tollctl args]: an offline tollctl command (verify, recordings export)
# on this run's store, bounded.
rec_offline() {
	timeout -k 2 "$(it_left 30)" "$REC_TOLLCTL" "$@" --dir "$REC_DIR"
}

# rec_srv_psql [psql args]: psql as the test role straight to the server, from inside
# the server namespace (not through the appliance), bounded.
rec_srv_psql() {
	PGCONNECT_TIMEOUT=5 timeout -k 5 "$(it_left 60)" ip netns exec "$TG_NS_SERVER" \
		"$IT_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$IT_URI" "$@"
}

# rec_until <tries> <sleep s> <command...>: runs the command until it succeeds, at
# most <tries> times, <sleep s> apart. True when it succeeded.
rec_until() {
	local tries=$1 pause=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$pause"
	done
	return 1
}

# rec_log_errors <log>: prints tollgated's error-level JSON log lines.
rec_log_errors() {
	grep -E '^\{.*"level" *: *"(error|fatal|crit)' "$1" || true
}

# rec_jq [jq args]: true when the jq filter's last output is neither false nor null.
rec_jq() {
	jq -e "$@" >/dev/null 2>&1
}
