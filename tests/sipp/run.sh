#!/usr/bin/env bash
# voxgate SIPp suite: builds voxgate (debug), starts it on a test config in a temp dir, plays
# every test below against it (SIPp scenarios, openssl s_client, sipsak, raw TCP/TLS probes,
# config checks, reloads), stops it with SIGTERM and prints one PASS/FAIL line per test and
# the closing line "N passed, M failed". Exit status: 0 when nothing failed.
#
#   tests/sipp/run.sh                 every test
#   tests/sipp/run.sh tls reload      only the tests whose name contains "tls" or "reload"
#   tests/sipp/run.sh --list          the test names
#
# Environment:
#   VOXGATE_TEST_PORT_BASE  SIP UDP+TCP port (default 15060); TLS is BASE+1, a scratch TLS
#                           port for the openssl control server BASE+2, admin HTTP BASE+4000
#   VOXGATE_BIN             use this binary instead of building target/debug/voxgate
#   VOXGATE_TEST_LOG_LEVEL  voxgate's log filter (default info,voxgate_sip=debug,voxgate_edge=debug)
#   VOXGATE_TEST_NO_INSTALL set to 1 to never apt-get missing tools (sip-tester, sipsak, ...)
#   VOXGATE_TEST_STOP_S     seconds voxgate may take to exit after SIGTERM (default 5)
#
# Every file a test writes goes to tests/sipp/out/ (gitignored): SIPp's message, error and
# screen logs per test, voxgate.log, the configs used.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out

BASE=${VOXGATE_TEST_PORT_BASE:-15060}
SIP_PORT=$BASE
TLS_PORT=$((BASE + 1))
SCRATCH_TLS_PORT=$((BASE + 2))
ADMIN_PORT=$((BASE + 4000))
ADMIN=127.0.0.1:$ADMIN_PORT
MEDIA_MIN=40000
MEDIA_MAX=40999
LOG_LEVEL=${VOXGATE_TEST_LOG_LEVEL:-info,voxgate_sip=debug,voxgate_edge=debug}
STOP_S=${VOXGATE_TEST_STOP_S:-5}
# The test config's limit; the oversize tests send a bit more than this.
MAX_MESSAGE_SIZE=4096

WORK=""        # temp dir holding the live config
CONF=""        # the config voxgate runs on
LOG=$OUT/voxgate.log
VOX_PID=""
BIN=""

PASSED=0
FAILED=0
FAILED_NAMES=()
REASON=""      # set by a failing test: one line saying what went wrong
SIPP_ERR=""    # the SIPp error file of the test's last SIPp run, shown on failure
EXTRA_FILE=""  # another file worth showing on failure (openssl/sipsak/rawsip output)

# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------
if [ -t 1 ]; then GREEN=$'\e[32m' RED=$'\e[31m' DIM=$'\e[2m' OFF=$'\e[0m'; else GREEN="" RED="" DIM="" OFF=""; fi
say() { printf '%s\n' "$*"; }
die() { printf '%s\n' "run.sh: $*" >&2; exit 2; }

# ------------------------------------------------------------------------------------------
# Tools
# ------------------------------------------------------------------------------------------
missing_tools() {
	local t
	for t in sipp openssl curl python3 sipsak timeout; do
		command -v "$t" >/dev/null 2>&1 || printf '%s ' "$t"
	done
}

ensure_tools() {
	local missing
	missing=$(missing_tools)
	[ -z "$missing" ] && return 0
	if [ "${VOXGATE_TEST_NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		say "installing missing tools: $missing"
		local pkgs="sip-tester sipsak openssl curl python3 coreutils"
		# shellcheck disable=SC2086 # word splitting of the package list is intended
		$sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null 2>&1 ||
			{ $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; }
	fi
	missing=$(missing_tools)
	# sipsak only serves one test, which then fails with a clear reason.
	missing=${missing//sipsak /}
	[ -z "$missing" ] || die "missing tools: $missing(Debian: apt-get install sip-tester openssl curl python3)"
}

# ------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------
DEFAULT_ALLOW='"127.0.0.1/32", "::1/128"'
DEFAULT_TRANSPORTS='"udp", "tcp", "tls"'

# write_config FILE [ALLOW] [TRANSPORTS]: the test config, with the loopback trunk's
# allow-list and transports as given (TOML array contents).
write_config() {
	local file=$1 allow=${2:-$DEFAULT_ALLOW} transports=${3:-$DEFAULT_TRANSPORTS}
	cat >"$file" <<EOF
# voxgate config written by tests/sipp/run.sh
[node]
name = "voxgate-sipp"
region = "local"

[admin]
listen = "$ADMIN"

[logging]
format = "pretty"
level = "$LOG_LEVEL"

[sip.timers]
# The scenarios' timings assume the RFC defaults (timer G fires at T1, then 2*T1).
t1_ms = 500
t2_ms = 4000
t4_ms = 5000

[sip.limits]
max_message_size = $MAX_MESSAGE_SIZE
connection_idle_timeout_s = 30

[[listener]]
transport = "udp"
address = "127.0.0.1:$SIP_PORT"

[[listener]]
transport = "tcp"
address = "127.0.0.1:$SIP_PORT"

[[listener]]
transport = "tls"
address = "127.0.0.1:$TLS_PORT"

[[trunk]]
name = "loopback"
allow = [$allow]
transports = [$transports]

[[media_region]]
name = "local"
addresses = ["127.0.0.1"]
port_min = $MEDIA_MIN
port_max = $MEDIA_MAX

[[route]]
name = "default"
match_user = { prefix = "" }
destinations = [ { uri = "sip:127.0.0.1:5080", transport = "udp", trunk = "loopback" } ]
EOF
}

# ------------------------------------------------------------------------------------------
# voxgate process
# ------------------------------------------------------------------------------------------
build() {
	if [ -n "${VOXGATE_BIN:-}" ]; then
		BIN=$VOXGATE_BIN
		[ -x "$BIN" ] || die "VOXGATE_BIN=$BIN is not executable"
		return 0
	fi
	say "building voxgate (cargo build --bin voxgate)"
	if ! (cd "$ROOT" && cargo build --bin voxgate) >"$OUT/build.log" 2>&1; then
		tail -n 40 "$OUT/build.log"
		return 1
	fi
	BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/voxgate
	[ -x "$BIN" ] || { say "built, but $BIN is missing"; return 1; }
}

vox_alive() { [ -n "$VOX_PID" ] && kill -0 "$VOX_PID" 2>/dev/null; }

http_code() { # http_code METHOD PATH [BODY_FILE]: prints the status code (000 when unreachable)
	curl -s -o "${3:-/dev/null}" -w '%{http_code}' --max-time 3 -X "$1" "http://$ADMIN$2"
}

start_voxgate() {
	# A leftover voxgate (or anything else) on our ports would be tested in our place.
	if [ "$(http_code GET /readyz)" != 000 ]; then
		say "something already answers on http://$ADMIN (a leftover voxgate?); set VOXGATE_TEST_PORT_BASE"
		return 1
	fi
	# NO_COLOR: plain text in the log file.
	NO_COLOR=1 "$BIN" --config "$CONF" >"$LOG" 2>&1 &
	VOX_PID=$!
	local i
	for i in $(seq 1 100); do
		if ! vox_alive; then
			wait "$VOX_PID" 2>/dev/null
			say "voxgate exited at start (status $?); its log:"
			tail -n 30 "$LOG"
			VOX_PID=""
			return 1
		fi
		[ "$(http_code GET /readyz)" = 200 ] && return 0
		sleep 0.1
	done
	say "voxgate not ready after 10 s (GET /readyz); its log:"
	tail -n 30 "$LOG"
	return 1
}

cleanup() {
	if vox_alive; then
		kill -TERM "$VOX_PID" 2>/dev/null
		sleep 1
		vox_alive && kill -KILL "$VOX_PID" 2>/dev/null
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
}

# reload_via_hup: SIGHUP, then waits for voxgate_config_reloads_total to move.
reload_via_hup() {
	local ok_before err_before i
	ok_before=$(metric voxgate_config_reloads_total 'result="ok"')
	err_before=$(metric voxgate_config_reloads_total 'result="error"')
	kill -HUP "$VOX_PID" || { REASON="kill -HUP failed"; return 1; }
	for i in $(seq 1 50); do
		[ "$(metric voxgate_config_reloads_total 'result="ok"')" -gt "$ok_before" ] 2>/dev/null && return 0
		if [ "$(metric voxgate_config_reloads_total 'result="error"')" -gt "$err_before" ] 2>/dev/null; then
			REASON="SIGHUP reload refused (voxgate_config_reloads_total{result=\"error\"} rose)"
			return 1
		fi
		sleep 0.1
	done
	REASON="SIGHUP: voxgate_config_reloads_total{result=\"ok\"} did not rise within 5 s"
	return 1
}

# reload_via_http: POST /reload; 2xx expected.
reload_via_http() {
	local code
	code=$(http_code POST /reload "$OUT/reload.body")
	case $code in
	2??) return 0 ;;
	*) REASON="POST /reload answered $code: $(head -c 300 "$OUT/reload.body")"; return 1 ;;
	esac
}

# ------------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------------
# Sums the series of metric argv[1] whose labels include all of argv[2] ('k="v",k2="v2"',
# any order); prints 0 when none matches. Prometheus text on stdin.
METRIC_PY='
import re, sys
name, want = sys.argv[1], sys.argv[2]
pair = re.compile(r"(\w+)=\"((?:[^\"\\]|\\.)*)\"")
wanted = dict(pair.findall(want))
line_re = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
total = 0.0
for line in sys.stdin:
    if line.startswith("#"):
        continue
    m = line_re.match(line)
    if not m or m.group(1) != name:
        continue
    labels = dict(pair.findall(m.group(2) or ""))
    if all(labels.get(k) == v for k, v in wanted.items()):
        total += float(m.group(3))
print(int(total) if total == int(total) else total)
'

# metric NAME [LABELS]: the value (sum over matching series; 0 if absent). Prints "?" and
# fails when /metrics cannot be read.
metric() {
	local text
	if ! text=$(curl -fsS --max-time 3 "http://$ADMIN/metrics" 2>/dev/null); then
		echo "?"
		return 1
	fi
	python3 -c "$METRIC_PY" "$1" "${2:-}" <<<"$text"
}

is_number() { [[ $1 =~ ^[0-9]+$ ]]; }

# expect_rise NAME LABELS BEFORE N: the series rises by at least N (polled for up to 3 s).
expect_rise() {
	local name=$1 labels=$2 before=$3 n=$4 now i
	is_number "$before" || { REASON="could not read $name{$labels} before the test"; return 1; }
	for i in $(seq 1 30); do
		now=$(metric "$name" "$labels")
		[ "$now" != "?" ] && [ "$((now - before))" -ge "$n" ] && return 0
		sleep 0.1
	done
	REASON="$name{$labels} went from $before to $now; expected a rise of at least $n"
	return 1
}

# expect_delta NAME LABELS BEFORE N: the series rose by exactly N (read after a short settle).
expect_delta() {
	local name=$1 labels=$2 before=$3 n=$4 now
	is_number "$before" || { REASON="could not read $name{$labels} before the test"; return 1; }
	sleep 0.3
	now=$(metric "$name" "$labels")
	[ "$now" != "?" ] && [ "$((now - before))" -eq "$n" ] && return 0
	REASON="$name{$labels} went from $before to $now; expected a rise of exactly $n"
	return 1
}

# ------------------------------------------------------------------------------------------
# SIPp
# ------------------------------------------------------------------------------------------
# sipp_play NAME SCENARIO [SIPP ARGS...]: plays one scenario against voxgate's UDP/TCP port
# (one call unless -m is given; later arguments override the defaults). Returns SIPp's exit
# status (0: every call succeeded). Files: out/NAME.{errors,messages,screen,actions}.log.
sipp_play() {
	local name=$1 scenario=$2
	shift 2
	SIPP_ERR=$OUT/$name.errors.log
	rm -f "$OUT/$name".*.log "$OUT/$name.stdout"
	timeout 60 sipp "127.0.0.1:$SIP_PORT" -sf "$HERE/$scenario" \
		-m 1 -i 127.0.0.1 -bind_local -nostdin \
		-timeout 20s -timeout_error -recv_timeout 5000 \
		-trace_err -error_file "$SIPP_ERR" \
		-trace_msg -message_file "$OUT/$name.messages.log" \
		-trace_screen -screen_file "$OUT/$name.screen.log" \
		-trace_logs -log_file "$OUT/$name.actions.log" \
		"$@" >"$OUT/$name.stdout" 2>&1
}

# sipp_ok NAME SCENARIO [ARGS...]: sipp_play, and a failure reason when SIPp did not exit 0.
sipp_ok() {
	local name=$1 rc
	sipp_play "$@"
	rc=$?
	[ "$rc" = 0 ] && return 0
	local why=""
	[ -f "$SIPP_ERR" ] && why=$(grep -v -e '^The following events occurred' -e '^[[:space:]]*$' "$SIPP_ERR" | tail -n 1 | cut -c1-220)
	[ -z "$why" ] && why=$(grep -i -m1 -e error -e fatal "$OUT/$name.stdout" | cut -c1-220)
	REASON="SIPp ($2) exited $rc, 0 expected${why:+: $why}"
	return 1
}

# ------------------------------------------------------------------------------------------
# Tests. Each sets REASON and returns non-zero on failure.
# ------------------------------------------------------------------------------------------
test_admin_endpoints() {
	local c
	c=$(http_code GET /healthz) && [ "$c" = 200 ] || { REASON="GET /healthz answered $c"; return 1; }
	c=$(http_code GET /readyz) && [ "$c" = 200 ] || { REASON="GET /readyz answered $c"; return 1; }
	curl -fsS --max-time 3 "http://$ADMIN/metrics" >"$OUT/metrics.txt" 2>&1 || { REASON="GET /metrics failed"; return 1; }
	# Labelled series appear only once counted; these two exist from the start.
	grep -q '^voxgate_build_info{' "$OUT/metrics.txt" || { REASON="/metrics lacks voxgate_build_info (see out/metrics.txt)"; return 1; }
	grep -q '^voxgate_draining 0' "$OUT/metrics.txt" || { REASON="/metrics lacks 'voxgate_draining 0' (see out/metrics.txt)"; return 1; }
}

test_options_udp() {
	local req resp
	req=$(metric voxgate_sip_requests_total 'direction="in",transport="udp",method="OPTIONS"')
	resp=$(metric voxgate_sip_responses_total 'direction="out",transport="udp",method="OPTIONS",status_class="2xx"')
	sipp_ok options_udp options.xml || return 1
	expect_rise voxgate_sip_requests_total 'direction="in",transport="udp",method="OPTIONS"' "$req" 1 || return 1
	expect_rise voxgate_sip_responses_total 'direction="out",transport="udp",method="OPTIONS",status_class="2xx"' "$resp" 1
}

test_options_tcp() {
	local resp conns
	resp=$(metric voxgate_sip_responses_total 'direction="out",transport="tcp",method="OPTIONS",status_class="2xx"')
	conns=$(metric voxgate_sip_connections_total 'transport="tcp"')
	sipp_ok options_tcp options.xml -t t1 || return 1
	expect_rise voxgate_sip_responses_total 'direction="out",transport="tcp",method="OPTIONS",status_class="2xx"' "$resp" 1 || return 1
	expect_rise voxgate_sip_connections_total 'transport="tcp"' "$conns" 1
}

test_options_max_forwards_zero() {
	sipp_ok options_mf0 options_max_forwards_zero.xml
}

test_allowlist_udp() {
	local drops reqs
	drops=$(metric voxgate_allowlist_drops_total 'transport="udp",reason="not_allowed"')
	reqs=$(metric voxgate_sip_requests_total 'direction="in",transport="udp"')
	sipp_ok allowlist_udp options_no_answer.xml -i 127.0.0.2 || return 1
	expect_rise voxgate_allowlist_drops_total 'transport="udp",reason="not_allowed"' "$drops" 1 || return 1
	# Dropped before parsing: not counted as a received request.
	expect_delta voxgate_sip_requests_total 'direction="in",transport="udp"' "$reqs" 0
}

# rawsip MODE ARGS...: the raw TCP/TLS probe; its one-line verdict lands in REASON on failure.
rawsip() {
	local name=$1
	shift
	EXTRA_FILE=$OUT/$name.rawsip.txt
	timeout 20 python3 "$HERE/rawsip.py" "$@" >"$EXTRA_FILE" 2>&1 && return 0
	REASON="rawsip.py $*: $(tail -n 1 "$EXTRA_FILE")"
	return 1
}

test_allowlist_tcp() {
	local drops
	drops=$(metric voxgate_allowlist_drops_total 'transport="tcp",reason="not_allowed"')
	rawsip allowlist_tcp closed --silent --transport tcp --port "$SIP_PORT" --bind 127.0.0.2 || return 1
	expect_rise voxgate_allowlist_drops_total 'transport="tcp",reason="not_allowed"' "$drops" 1
}

test_allowlist_tls() {
	local drops
	drops=$(metric voxgate_allowlist_drops_total 'transport="tls",reason="not_allowed"')
	rawsip allowlist_tls closed --silent --transport tls --port "$TLS_PORT" --bind 127.0.0.2 || return 1
	expect_rise voxgate_allowlist_drops_total 'transport="tls",reason="not_allowed"' "$drops" 1
}

test_invite_retransmission_absorbed() {
	local tx
	tx=$(metric voxgate_sip_transactions_total 'kind="invite_server"')
	# -nr: see the scenario's header comment.
	sipp_ok invite_retransmission invite_retransmission.xml -nr || return 1
	expect_delta voxgate_sip_transactions_total 'kind="invite_server"' "$tx" 1
}

test_invite_timer_g() {
	local tx
	tx=$(metric voxgate_sip_transactions_total 'kind="invite_server"')
	sipp_ok invite_timer_g invite_timer_g.xml -nr || return 1
	expect_delta voxgate_sip_transactions_total 'kind="invite_server"' "$tx" 1
}

test_missing_max_forwards_400() {
	local errs
	errs=$(metric voxgate_sip_parse_errors_total 'transport="udp"')
	sipp_ok missing_max_forwards missing_max_forwards.xml || return 1
	expect_rise voxgate_sip_parse_errors_total 'transport="udp"' "$errs" 1
}

test_bad_cseq_400() {
	local errs
	errs=$(metric voxgate_sip_parse_errors_total 'transport="udp"')
	sipp_ok bad_cseq bad_cseq.xml || return 1
	expect_rise voxgate_sip_parse_errors_total 'transport="udp"' "$errs" 1
}

test_invite_max_forwards_zero_483() { sipp_ok invite_mf0 invite_max_forwards_zero.xml; }
test_require_unknown_420() { sipp_ok require_unknown require_unknown.xml; }
test_register_405() { sipp_ok register register.xml; }
test_unknown_method_501() { sipp_ok unknown_method unknown_method.xml; }
test_bye_out_of_dialog_481() { sipp_ok bye_out_of_dialog bye_out_of_dialog.xml; }
test_to_tag_unknown_dialog_481() { sipp_ok to_tag to_tag_unknown_dialog.xml; }

test_oversized_udp_513() {
	# The padding header's value: enough to take the request past max_message_size.
	{
		echo SEQUENTIAL
		head -c $((MAX_MESSAGE_SIZE + 500)) /dev/zero | tr '\0' x
		echo
	} >"$OUT/pad.csv"
	sipp_ok oversized_udp oversized_udp.xml -inf "$OUT/pad.csv"
}

test_oversized_tcp_closed() {
	# Control first: a padded request under the limit is answered on the same path.
	rawsip oversized_tcp_control response --transport tcp --port "$SIP_PORT" --pad 1000 || return 1
	rawsip oversized_tcp closed --transport tcp --port "$SIP_PORT" --pad $((MAX_MESSAGE_SIZE + 500))
}

test_oversized_tls_closed() {
	rawsip oversized_tls_control response --transport tls --port "$TLS_PORT" --pad 1000 || return 1
	rawsip oversized_tls closed --transport tls --port "$TLS_PORT" --pad $((MAX_MESSAGE_SIZE + 500))
}

# sip_options_text TRANSPORT: one OPTIONS request, CRLF line ends, for openssl s_client.
sip_options_text() {
	local t=$1 tag
	tag=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\r\n' \
		"OPTIONS sip:ping@127.0.0.1:$TLS_PORT SIP/2.0" \
		"Via: SIP/2.0/$t 127.0.0.1:5061;branch=z9hG4bK-ossl-$tag;rport" \
		"Max-Forwards: 70" \
		"From: <sip:openssl@127.0.0.1>;tag=$tag" \
		"To: <sip:ping@127.0.0.1:$TLS_PORT>" \
		"Call-ID: $tag@openssl" \
		"CSeq: 1 OPTIONS" \
		"Content-Length: 0" \
		""
}

test_tls_options_openssl() {
	local out=$OUT/tls_options.out
	EXTRA_FILE=$out
	# The request, then stdin stays open 1 s for the answer; -no_ign_eof: quit at stdin's end.
	{ sip_options_text TLS; sleep 1; } |
		timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost -quiet -no_ign_eof >"$out" 2>&1
	grep -q '^SIP/2.0 200' "$out" && return 0
	REASON="no 'SIP/2.0 200' from voxgate over TLS (openssl s_client output in out/tls_options.out: $(head -n 1 "$out"))"
	return 1
}

# tls_handshake NAME PORT ARGS...: an openssl s_client handshake (stdin closed right away).
# Returns openssl's status; output in out/NAME.out.
tls_handshake() {
	local name=$1 port=$2
	shift 2
	EXTRA_FILE=$OUT/$name.out
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" </dev/null >"$EXTRA_FILE" 2>&1
}

test_tls_old_versions_refused() {
	# Control: the same client settings complete a handshake with an openssl server that
	# accepts old versions, so a failure against voxgate is voxgate's refusal, not a client
	# that cannot offer TLS 1.0/1.1 at all.
	local key=$OUT/scratch-key.pem cert=$OUT/scratch-cert.pem v
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
		-days 1 -keyout "$key" -out "$cert" >"$OUT/scratch-cert.log" 2>&1 ||
		{ REASON="openssl req could not make a scratch certificate"; EXTRA_FILE=$OUT/scratch-cert.log; return 1; }
	for v in tls1 tls1_1; do
		timeout 10 openssl s_server -accept "127.0.0.1:$SCRATCH_TLS_PORT" -cert "$cert" -key "$key" \
			-"$v" -cipher DEFAULT@SECLEVEL=0 -naccept 1 -quiet >"$OUT/scratch-server-$v.log" 2>&1 &
		local srv=$!
		local ok=""
		for _ in $(seq 1 20); do
			if tls_handshake "control_$v" "$SCRATCH_TLS_PORT" -"$v" -cipher DEFAULT@SECLEVEL=0; then ok=1; break; fi
			sleep 0.1 # the control server may still be starting
		done
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
		[ -n "$ok" ] || { REASON="control: openssl s_client -$v could not reach an openssl server accepting $v either"; return 1; }
		if tls_handshake "voxgate_$v" "$TLS_PORT" -"$v" -cipher DEFAULT@SECLEVEL=0; then
			REASON="a handshake offering only -$v SUCCEEDED against voxgate (see out/voxgate_$v.out)"
			return 1
		fi
		grep -q 'Cipher is (NONE)' "$EXTRA_FILE" ||
			{ REASON="-$v: openssl failed but did not report a failed handshake (see out/voxgate_$v.out)"; return 1; }
	done
}

test_tls12_tls13_accepted() {
	tls_handshake tls1_2 "$TLS_PORT" -tls1_2 || { REASON="-tls1_2 handshake failed: $(grep -m1 -i error "$EXTRA_FILE")"; return 1; }
	grep -Eq 'New, TLSv1\.2, Cipher is [A-Z]' "$EXTRA_FILE" || { REASON="-tls1_2: no TLSv1.2 session in openssl's output"; return 1; }
	tls_handshake tls1_3 "$TLS_PORT" -tls1_3 || { REASON="-tls1_3 handshake failed: $(grep -m1 -i error "$EXTRA_FILE")"; return 1; }
	grep -Eq 'New, TLSv1\.3, Cipher is [A-Z]' "$EXTRA_FILE" || { REASON="-tls1_3: no TLSv1.3 session in openssl's output"; return 1; }
}

test_sipsak_options() {
	command -v sipsak >/dev/null 2>&1 || { REASON="sipsak is not installed (apt-get install sipsak)"; return 1; }
	EXTRA_FILE=$OUT/sipsak.out
	timeout 15 sipsak -vv -s "sip:ping@127.0.0.1:$SIP_PORT" >"$EXTRA_FILE" 2>&1
	local rc=$?
	grep -q 'SIP/2.0 200' "$EXTRA_FILE" && [ "$rc" = 0 ] && return 0
	REASON="sipsak exited $rc; $(grep -m1 -e '^SIP/2.0' -e -i error "$EXTRA_FILE" || echo 'no SIP/2.0 200 in its output')"
	return 1
}

test_options_load_udp() {
	local resp
	resp=$(metric voxgate_sip_responses_total 'direction="out",transport="udp",method="OPTIONS",status_class="2xx"')
	# 2000 OPTIONS at 200/s; SIPp exits 0 only if every one got its checked 200.
	sipp_ok options_load options.xml -r 200 -m 2000 -l 400 || return 1
	expect_rise voxgate_sip_responses_total 'direction="out",transport="udp",method="OPTIONS",status_class="2xx"' "$resp" 2000
}

test_check_config_sample() {
	local out=$OUT/check_config_sample.out rc
	EXTRA_FILE=$out
	[ -f "$ROOT/config/voxgate.toml" ] || { REASON="config/voxgate.toml is missing"; return 1; }
	"$BIN" check-config "$ROOT/config/voxgate.toml" >"$out" 2>&1
	rc=$?
	[ "$rc" = 0 ] && [ "$(cat "$out")" = OK ] && return 0
	REASON="check-config config/voxgate.toml exited $rc printing: $(head -c 200 "$out")"
	return 1
}

# bad_config NAME LINE KEY: check-config on out/NAME.toml must exit non-zero and print
# "out/NAME.toml:LINE" and KEY.
bad_config() {
	local file=$OUT/$1.toml line=$2 key=$3 out=$OUT/$1.out rc
	EXTRA_FILE=$out
	"$BIN" check-config "$file" >"$out" 2>&1
	rc=$?
	[ "$rc" != 0 ] || { REASON="check-config accepted $1.toml (exit 0)"; return 1; }
	grep -Eq "$file:$line([^0-9]|\$)" "$out" || { REASON="$1: no '$file:$line' in: $(head -c 200 "$out")"; return 1; }
	grep -qF "$key" "$out" || { REASON="$1: key '$key' not named in: $(head -c 200 "$out")"; return 1; }
}

# line_of FILE PATTERN: the first line number matching PATTERN (fixed string).
line_of() { grep -nF -m1 "$2" "$1" | cut -d: -f1; }

test_check_config_errors() {
	local f
	# An unknown key under [node].
	f=$OUT/bad_unknown_key.toml
	write_config "$f"
	sed -i 's/^region = "local"$/region = "local"\ncolour = "blue"/' "$f"
	bad_config bad_unknown_key "$(line_of "$f" 'colour = ')" colour || return 1
	# A CIDR that is not one.
	f=$OUT/bad_cidr.toml
	write_config "$f" '"127.0.0.300/32", "::1/128"'
	bad_config bad_cidr "$(line_of "$f" 'allow = ')" 'trunk[0].allow' || return 1
	# Host bits set.
	f=$OUT/bad_host_bits.toml
	write_config "$f" '"127.0.0.1/8"'
	bad_config bad_host_bits "$(line_of "$f" 'allow = ')" 'trunk[0].allow'
}

test_reload_allowlist() {
	local rc=0
	reload_steps || rc=1
	# Whatever happened, leave voxgate on the original config for the tests after this one.
	local saved_reason=$REASON
	write_config "$CONF"
	reload_via_http || { rc=1; saved_reason="${saved_reason:+$saved_reason; }restoring: $REASON"; }
	REASON=$saved_reason
	[ "$rc" = 0 ] || return 1
	# Restored: 127.0.0.2 is dropped again.
	sipp_ok reload_restored options_no_answer.xml -i 127.0.0.2 ||
		{ REASON="after restoring the config: $REASON"; return 1; }
}

reload_steps() {
	sipp_ok reload_before options_no_answer.xml -i 127.0.0.2 ||
		{ REASON="before the reload, 127.0.0.2 was answered: $REASON"; return 1; }
	# Widen the allow-list; SIGHUP.
	write_config "$CONF" '"127.0.0.0/24", "::1/128"'
	reload_via_hup || return 1
	sipp_ok reload_widened options.xml -i 127.0.0.2 ||
		{ REASON="after SIGHUP with 127.0.0.0/24 allowed: $REASON"; return 1; }
	# A broken file: POST /reload refuses it with the error and the old config keeps running.
	local err code
	err=$(metric voxgate_config_reloads_total 'result="error"')
	write_config "$CONF" '"127.0.0.0/24", "not-a-cidr"'
	code=$(http_code POST /reload "$OUT/reload_bad.body")
	EXTRA_FILE=$OUT/reload_bad.body
	case $code in 2??|000) REASON="POST /reload of an invalid config answered $code"; return 1 ;; esac
	grep -q 'not-a-cidr\|allow' "$OUT/reload_bad.body" ||
		{ REASON="POST /reload answered $code without naming the error: $(head -c 200 "$OUT/reload_bad.body")"; return 1; }
	expect_rise voxgate_config_reloads_total 'result="error"' "$err" 1 || return 1
	sipp_ok reload_kept_local options.xml ||
		{ REASON="after a refused reload, 127.0.0.1: $REASON"; return 1; }
	sipp_ok reload_kept_widened options.xml -i 127.0.0.2 ||
		{ REASON="after a refused reload the widened allow-list was lost: $REASON"; return 1; }
}

test_transport_not_allowed() {
	local rc=0 drops
	drops=$(metric voxgate_allowlist_drops_total 'transport="tcp",reason="transport_not_allowed"')
	write_config "$CONF" "$DEFAULT_ALLOW" '"udp", "tls"'
	if reload_via_http; then
		rawsip transport_not_allowed closed --silent --transport tcp --port "$SIP_PORT" &&
			expect_rise voxgate_allowlist_drops_total 'transport="tcp",reason="transport_not_allowed"' "$drops" 1 ||
			rc=1
	else
		rc=1
	fi
	local saved_reason=$REASON
	write_config "$CONF"
	reload_via_http || { rc=1; saved_reason="${saved_reason:+$saved_reason; }restoring: $REASON"; }
	REASON=$saved_reason
	[ "$rc" = 0 ] || return 1
	rawsip transport_restored response --transport tcp --port "$SIP_PORT" ||
		{ REASON="after restoring tcp: $REASON"; return 1; }
}

# Always last: graceful stop.
test_sigterm_graceful_stop() {
	vox_alive || { REASON="voxgate was not running any more"; return 1; }
	local t0=$SECONDS rc live
	# What is still alive when the stop begins (named in the failure reason).
	live="invite_server=$(metric voxgate_sip_transactions_active 'kind="invite_server"')"
	live+=" non_invite_server=$(metric voxgate_sip_transactions_active 'kind="non_invite_server"')"
	kill -TERM "$VOX_PID"
	local i
	for i in $(seq 1 $((STOP_S * 10))); do
		vox_alive || break
		sleep 0.1
	done
	if vox_alive; then
		# Give it the rest of 64*T1 to learn how long it takes, then kill it.
		for i in $(seq 1 400); do vox_alive || break; sleep 0.1; done
		if vox_alive; then
			kill -KILL "$VOX_PID"
			REASON="still running 45 s after SIGTERM; killed (transactions active at SIGTERM: $live)"
		else
			wait "$VOX_PID"
			REASON="exited (status $?) only after $((SECONDS - t0)) s; at most ${STOP_S} s expected (transactions active at SIGTERM: $live)"
		fi
		VOX_PID=""
		return 1
	fi
	wait "$VOX_PID"
	rc=$?
	VOX_PID=""
	[ "$rc" = 0 ] || { REASON="exit status $rc after SIGTERM, 0 expected"; return 1; }
	if grep -q 'panicked' "$LOG"; then
		REASON="voxgate.log holds a panic: $(grep -m1 'panicked' "$LOG" | cut -c1-200)"
		return 1
	fi
}

TESTS=(
	test_admin_endpoints
	test_options_udp
	test_options_tcp
	test_options_max_forwards_zero
	test_allowlist_udp
	test_allowlist_tcp
	test_allowlist_tls
	test_invite_retransmission_absorbed
	test_invite_timer_g
	test_missing_max_forwards_400
	test_bad_cseq_400
	test_invite_max_forwards_zero_483
	test_require_unknown_420
	test_register_405
	test_unknown_method_501
	test_bye_out_of_dialog_481
	test_to_tag_unknown_dialog_481
	test_oversized_udp_513
	test_oversized_tcp_closed
	test_oversized_tls_closed
	test_tls_options_openssl
	test_tls_old_versions_refused
	test_tls12_tls13_accepted
	test_sipsak_options
	test_options_load_udp
	test_check_config_sample
	test_check_config_errors
	test_reload_allowlist
	test_transport_not_allowed
)

# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------
record() { # record NAME PASS|FAIL SECONDS LOG_MARK
	local name=${1#test_} verdict=$2 secs=$3 mark=$4
	if [ "$verdict" = PASS ]; then
		PASSED=$((PASSED + 1))
		say "${GREEN}PASS${OFF} $name ${DIM}(${secs}s)${OFF}"
		return
	fi
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=("$name")
	say "${RED}FAIL${OFF} $name (${secs}s): ${REASON:-no reason given}"
	if [ -f "$LOG" ]; then
		say "  --- voxgate.log (lines written during the test, last 20) ---"
		tail -n +"$((mark + 1))" "$LOG" | tail -n 20 | sed 's/^/  | /'
	fi
	if [ -n "$SIPP_ERR" ] && [ -s "$SIPP_ERR" ]; then
		say "  --- ${SIPP_ERR#"$HERE"/} (last 15 lines) ---"
		tail -n 15 "$SIPP_ERR" | sed 's/^/  | /'
	fi
	if [ -n "$EXTRA_FILE" ] && [ -s "$EXTRA_FILE" ]; then
		say "  --- ${EXTRA_FILE#"$HERE"/} (last 10 lines) ---"
		tail -n 10 "$EXTRA_FILE" | sed 's/^/  | /'
	fi
}

run_test() {
	local t=$1 t0=$SECONDS mark=0
	REASON="" SIPP_ERR="" EXTRA_FILE=""
	[ -f "$LOG" ] && mark=$(wc -l <"$LOG")
	if ! vox_alive; then
		REASON="voxgate is not running (it died earlier; see out/voxgate.log)"
		record "$t" FAIL 0 "$mark"
	elif "$t"; then
		record "$t" PASS $((SECONDS - t0)) "$mark"
	else
		record "$t" FAIL $((SECONDS - t0)) "$mark"
	fi
}

selected() { # selected NAME PATTERNS...: no patterns, or NAME contains one of them
	local name=$1 p
	shift
	[ $# = 0 ] && return 0
	for p in "$@"; do [[ $name == *"$p"* ]] && return 0; done
	return 1
}

main() {
	if [ "${1:-}" = --list ]; then
		printf '%s\n' "${TESTS[@]#test_}" sigterm_graceful_stop
		exit 0
	fi
	mkdir -p "$OUT" || die "cannot create $OUT"
	ensure_tools
	local suite_t0=$SECONDS
	if ! build; then
		say "${RED}FAIL${OFF} build: cargo build --bin voxgate failed (out/build.log)"
		say "0 passed, 1 failed"
		exit 1
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxgate-sipp.XXXXXX") || die "mktemp failed"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	CONF=$WORK/voxgate.toml
	write_config "$CONF"
	cp "$CONF" "$OUT/voxgate-test.toml"
	say "voxgate: $BIN --config $CONF (SIP udp/tcp 127.0.0.1:$SIP_PORT, tls :$TLS_PORT, admin $ADMIN)"
	if ! start_voxgate; then
		say "${RED}FAIL${OFF} start: voxgate did not become ready (out/voxgate.log)"
		say "0 passed, 1 failed"
		exit 1
	fi

	local t
	for t in "${TESTS[@]}"; do
		selected "${t#test_}" "$@" && run_test "$t"
	done
	run_test test_sigterm_graceful_stop

	say ""
	[ "$FAILED" -gt 0 ] && say "failed: ${FAILED_NAMES[*]}  (files in ${OUT#"$ROOT"/}/)"
	say "suite time: $((SECONDS - suite_t0)) s"
	say "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}

main "$@"
