#!/usr/bin/env bash
# test_jumbo.sh - a 9000-byte MTU network: tollgated forwards jumbo frames whole, and
# results through it are identical to the kernel bridge's.
#
# The veths run MTU 9000 (TG_NET_MTU), the ports `mtu = 9000` with af_packet frames of
# 10 KiB (framesz), so PostgreSQL's segments carry up to 8948 bytes of payload. Checked:
# the byte-identical output of a wide-row session and of a COPY of more than 10 MB;
# masking and blocking still work on jumbo segments; tollgated really received jumbo
# frames (rx_bytes / rx_pkts above 3000 in the COPY run) and dropped nothing. A config
# whose pair has two MTUs is refused by --check, naming the setting.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

export TG_NET_MTU=9000
it_init jumbo
it_net_up
it_pg_start

# demo.conf with mtu = 9000 on both ports and af_packet frames that hold a jumbo frame
# (it_tg_conf first: this run's interface names, absolute paths)
base=$(it_tg_conf) || it_die "no tollgated config ($TG_IT_CONF)"
conf=$IT_TMP/jumbo.conf
sed -e 's|\(dev = "net_af_packet[01],iface=[^"]*\)"; }|\1,framesz=10240,blocksz=40960"; mtu = 9000; }|' \
	"$base" >"$conf"
grep -q 'mtu = 9000' "$conf" || it_die "could not write the jumbo config from $TG_IT_CONF"
TG_IT_CONF=$conf

# the table each run reads (and tries to drop): made through the path under test
make_table() {
	it_psql -q -c "CREATE TABLE IF NOT EXISTS wide (id int PRIMARY KEY, body text, card text)" \
		-c "TRUNCATE wide" \
		-c "INSERT INTO wide SELECT i, repeat(md5(i::text), 200), '4111 1111 1111 1111' FROM generate_series(1, 400) AS i" \
		>/dev/null || it_die "creating the test table"
}

rows=160000
copy="COPY (SELECT i, 'row-' || i AS label, repeat(chr(97 + i % 26), 40 + i % 23) AS pad FROM generate_series(1, $rows) AS i) TO STDOUT"

run() {
	local dut=$1
	it_psql -Atc "SELECT id, length(body), md5(body), card FROM wide ORDER BY id" \
		>"$IT_TMP/$dut.wide" 2>&1 || echo "[exit $?]" >>"$IT_TMP/$dut.wide"
	it_psql -c "$copy" >"$IT_TMP/$dut.copy" 2>"$IT_TMP/$dut.copy.err" || echo "[exit $?]" >>"$IT_TMP/$dut.copy.err"
	printf '%s\n' "SELECT 1 AS before;" "DROP TABLE wide;" "SELECT count(*) AS after FROM wide;" |
		it_psql -v ON_ERROR_STOP=0 -f - >"$IT_TMP/$dut.block" 2>&1 || true
}

it_dut_start bridge
make_table
run bridge                        # no rules on the bridge: the table is dropped
make_table
it_dut_stop

it_dut_start appliance
run appliance
it_dut_stop
log=$IT_TMP/tollgated.$IT_TG_RUN.log

if grep -q '"mtu 9000' "$log" || grep -q 'mtu 9000,' "$log"; then
	it_pass "tollgated brought both ports up with mtu 9000"
else
	it_fail "no port came up with mtu 9000; log:"
	grep '"port"' "$log" | tail -n 4 | sed 's/^/    /'
fi
if cmp -s "$IT_TMP/bridge.copy" "$IT_TMP/appliance.copy" && [[ $(wc -l <"$IT_TMP/appliance.copy") -eq $rows ]]; then
	it_pass "COPY of $(stat -c %s "$IT_TMP/appliance.copy") bytes identical through the appliance and the bridge"
else
	it_fail "COPY differs: bridge $(stat -c %s "$IT_TMP/bridge.copy") bytes, appliance $(stat -c %s "$IT_TMP/appliance.copy") bytes"
	tail -n 3 "$IT_TMP/appliance.copy.err" | sed 's/^/    /'
fi
# the card column is masked through the appliance (last 4 kept), the rest identical
sed 's/|4111 1111 1111 1111$/|**** **** **** 1111/' "$IT_TMP/bridge.wide" >"$IT_TMP/bridge.wide.masked"
if [[ $(wc -l <"$IT_TMP/appliance.wide") -eq 400 ]] && cmp -s "$IT_TMP/bridge.wide.masked" "$IT_TMP/appliance.wide"; then
	it_pass "400 wide rows (6.4 kB each) identical, card numbers masked"
else
	it_fail "wide rows differ from the bridge's (masked):"
	diff "$IT_TMP/bridge.wide.masked" "$IT_TMP/appliance.wide" | head -n 5 | sed 's/^/    /'
fi
if grep -q "blocked by policy rule sql.drop-table" "$IT_TMP/appliance.block" &&
	grep -q "after" "$IT_TMP/appliance.block" &&
	grep -qx " *400" "$IT_TMP/appliance.block"; then
	it_pass "DROP TABLE blocked over jumbo frames, the session went on, the table stayed"
else
	it_fail "DROP TABLE through the appliance:"
	sed 's/^/    /' "$IT_TMP/appliance.block" | head -n 12
fi
pkts=$(it_counter_sum "$log" rx_pkts)
bytes=$(it_counter_sum "$log" rx_bytes)
if ((pkts > 0 && bytes / pkts > 3000)); then
	it_pass "jumbo frames went through tollgated: $bytes bytes in $pkts frames ($((bytes / pkts)) a frame)"
else
	it_fail "tollgated saw $bytes bytes in $pkts frames: no jumbo frames"
fi

# a pair of two MTUs is refused, naming file, line and setting
sed -e '0,/mtu = 9000/s//mtu = 1500/' "$conf" >"$IT_TMP/mixed.conf"
if out=$("$TG_TOLLGATED" --check "$IT_TMP/mixed.conf" 2>&1); then
	it_fail "--check accepted a pair of mtu 1500 and 9000"
elif grep -q "mixed.conf:[0-9]*: ports\[[01]\].mtu" <<<"$out"; then
	it_pass "--check refuses a pair of two MTUs: $(head -n 1 <<<"$out")"
else
	it_fail "--check refused the mixed pair without naming the setting: $out"
fi

it_finish
