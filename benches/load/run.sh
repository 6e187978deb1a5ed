#!/usr/bin/env bash
# voxgate load benchmark (not run in CI): SIPp places N calls at R calls per second through
# voxgate (release build) on loopback, each call playing g711a.pcap (236 PCMA packets, 7 s)
# to a SIPp callee that echoes it, so voxgate relays RTP both ways. Prints calls attempted
# and succeeded, achieved CPS, voxgate's CPU (from /proc/PID/stat) and peak RSS (VmHWM).
#
#   benches/load/run.sh                      200 calls at 20 cps with RTP (about 1 minute)
#   benches/load/run.sh -n 1000 -r 50        1000 calls at 50 cps
#   benches/load/run.sh --no-rtp -d 2000     signalling only, calls held 2 s
#
# Options:
#   -n CALLS        calls to place (default 200)
#   -r CPS          call rate (default 20)
#   -d MS           call length without RTP (--no-rtp; default 7100); with RTP it is the pcap's
#   --no-rtp        no media: SDP offered and answered, no RTP sent
#   --port-base P   SIP port of voxgate (default 25060); admin P+4000, callee P+20, caller P+10,
#                   SIPp RTP ports P+1000 (caller) and P+1100 (callee)
# Environment:
#   VOXGATE_BIN     use this binary instead of building target/release/voxgate
#
# Output files (SIPp screens and errors, voxgate log, samples): benches/load/out/.
# Needs sipp (Debian sip-tester), curl, python3.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out

CALLS=200
CPS=20
HOLD_MS=7100
RTP=1
BASE=25060
while [ $# -gt 0 ]; do
	case $1 in
	-n) CALLS=$2; shift 2 ;;
	-r) CPS=$2; shift 2 ;;
	-d) HOLD_MS=$2; shift 2 ;;
	--no-rtp) RTP=0; shift ;;
	--port-base) BASE=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$CALLS" "$CPS" "$HOLD_MS" "$BASE"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || { echo "run.sh: not a positive number: $v" >&2; exit 2; }
done

SIP_PORT=$BASE
ADMIN=127.0.0.1:$((BASE + 4000))
CALLER_PORT=$((BASE + 10))
CALLEE_PORT=$((BASE + 20))
CALLER_MP=$((BASE + 1000))
CALLEE_MP=$((BASE + 1100))
[ "$RTP" = 1 ] && HOLD_MS=7100
# Calls up at once: the rate times the call length, with room for setup and teardown.
CONCURRENT=$((CPS * (HOLD_MS + 3000) / 1000 + 10))
# Each call takes two RTP/RTCP port pairs (one per leg).
MEDIA_MIN=30000
MEDIA_MAX=$((MEDIA_MIN + CONCURRENT * 4 * 2 + 100))
[ "$MEDIA_MAX" -le 65535 ] || { echo "run.sh: $CONCURRENT concurrent calls need more media ports than exist" >&2; exit 2; }
# The run is bounded: the time to place the calls, one call length, and a margin.
LIMIT_S=$((CALLS / CPS + HOLD_MS / 1000 + 40))

VOX_PID=""
UAS_PID=""
MON_PID=""
WORK=""

cleanup() {
	[ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
	[ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null
	if [ -n "$VOX_PID" ] && kill -0 "$VOX_PID" 2>/dev/null; then
		kill -TERM "$VOX_PID"
		sleep 1
		kill -KILL "$VOX_PID" 2>/dev/null
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in sipp curl python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "run.sh: $t is missing (Debian: apt-get install sip-tester curl python3)" >&2; exit 2; }
done
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.jsonl "$OUT"/*.csv

if [ -n "${VOXGATE_BIN:-}" ]; then
	BIN=$VOXGATE_BIN
else
	echo "building voxgate (cargo build --release --bin voxgate)"
	(cd "$ROOT" && cargo build --release --bin voxgate) >"$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log"; exit 1; }
	BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/voxgate
fi
[ -x "$BIN" ] || { echo "run.sh: $BIN is not executable" >&2; exit 1; }

if curl -s -o /dev/null --max-time 2 "http://$ADMIN/readyz"; then
	echo "run.sh: something already answers on http://$ADMIN; use --port-base" >&2
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxgate-load.XXXXXX")
cp "$ROOT/tests/sipp/g711a.pcap" "$WORK/"
cat >"$WORK/voxgate.toml" <<EOF
# written by benches/load/run.sh
[node]
name = "voxgate-load"
region = "local"

[admin]
listen = "$ADMIN"

[logging]
format = "pretty"
level = "warn"

[[listener]]
transport = "udp"
address = "127.0.0.1:$SIP_PORT"
recv_buffer = 4194304
send_buffer = 4194304

[[trunk]]
name = "loopback"
allow = ["127.0.0.1/32"]

[[media_region]]
name = "local"
addresses = ["127.0.0.1"]
port_min = $MEDIA_MIN
port_max = $MEDIA_MAX

[[route]]
name = "callee"
match_user = { prefix = "" }
destinations = [ { uri = "sip:127.0.0.1:$CALLEE_PORT", transport = "udp", trunk = "loopback" } ]
EOF
cp "$WORK/voxgate.toml" "$OUT/voxgate-load.toml"

NO_COLOR=1 "$BIN" --config "$WORK/voxgate.toml" >"$OUT/voxgate.log" 2>&1 &
VOX_PID=$!
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$ADMIN/readyz")" = 200 ] && break
	kill -0 "$VOX_PID" 2>/dev/null || { echo "voxgate exited at start:"; tail -n 20 "$OUT/voxgate.log"; exit 1; }
	sleep 0.1
done

SIPP_COMMON=(-i 127.0.0.1 -bind_local -nostdin -buff_size 4194304 -trace_err -trace_screen)
# The callee: answers every call, echoes RTP.
(cd "$WORK" && exec timeout $((LIMIT_S + 20)) sipp -sf "$HERE/uas.xml" "${SIPP_COMMON[@]}" \
	-p "$CALLEE_PORT" -mp "$CALLEE_MP" -rtp_echo -m "$CALLS" \
	-error_file "$OUT/callee.errors.log" -screen_file "$OUT/callee.screen.log") >"$OUT/callee.stdout" 2>&1 &
UAS_PID=$!
sleep 0.5

rm -f "$WORK/stop"
python3 "$HERE/monitor.py" sample "$VOX_PID" "http://$ADMIN/metrics" "$OUT/samples.jsonl" "$WORK/stop" &
MON_PID=$!
# The first sample is the baseline: taken before the first call.
for _ in $(seq 1 50); do [ -s "$OUT/samples.jsonl" ] && break; sleep 0.1; done

if [ "$RTP" = 1 ]; then
	SCENARIO=$HERE/uac_rtp.xml
	WHAT="RTP both ways (g711a.pcap, 236 packets per leg and direction; 7.1 s calls)"
else
	SCENARIO=$HERE/uac_nomedia.xml
	WHAT="no RTP ($HOLD_MS ms calls)"
fi
echo "placing $CALLS calls at $CPS cps through voxgate ($BIN), $WHAT; at most ${LIMIT_S}s"
T0=$SECONDS
(cd "$WORK" && exec timeout $((LIMIT_S + 10)) sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIO" "${SIPP_COMMON[@]}" \
	-p "$CALLER_PORT" -mp "$CALLER_MP" -s 1000 -r "$CPS" -m "$CALLS" -l "$CONCURRENT" -d "$HOLD_MS" \
	-timeout "${LIMIT_S}s" -recv_timeout 10000 \
	-error_file "$OUT/caller.errors.log" -screen_file "$OUT/caller.screen.log") >"$OUT/caller.stdout" 2>&1
UAC_RC=$?
# Let the last calls end in voxgate (BYE relayed, CDR) before the last samples.
for _ in $(seq 1 50); do
	[ "$(curl -s --max-time 2 "http://$ADMIN/metrics" | awk '$1 == "voxgate_calls_active" {print $2}')" = 0 ] && break
	sleep 0.2
done
sleep 1
: >"$WORK/stop"
wait "$MON_PID"
MON_PID=""
wait "$UAS_PID"
UAS_RC=$?
UAS_PID=""

CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
python3 "$HERE/monitor.py" report "$OUT/samples.jsonl" "$OUT/caller.screen.log" --title \
	"voxgate load, $(date -u '+%Y-%m-%d %H:%M UTC'), ${CPU_MODEL:-unknown CPU} x $(nproc) cores, Linux $(uname -r); $CALLS calls at $CPS cps, $WHAT; SIPp caller and callee on the same machine"
echo "SIPp caller exit $UAC_RC, callee exit $UAS_RC (0: every call passed); run time $((SECONDS - T0)) s; files in ${OUT#"$ROOT"/}/"
[ "$UAC_RC" = 0 ]
