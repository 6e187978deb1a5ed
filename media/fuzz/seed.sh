#!/bin/sh
# Seeds the fuzz corpus (gitignored) with the SDP fixtures of the round-trip tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/sdp"
for f in "$here"/../tests/sdp/*.sdp; do
    cp "$f" "$here/corpus/sdp/$(basename "$f")"
done
echo "seeded $(ls "$here/corpus/sdp" | wc -l) files into $here/corpus/sdp"

# RTCP: an SR with one block + SDES CNAME, and an RR + SDES + BYE with a reason.
mkdir -p "$here/corpus/rtcp"
printf '\201\310\000\014\021\042\063\104\350\237\152\000\200\000\000\000\000\000\037\100\000\000\000\062\000\000\037\100\252\273\314\335\031\377\377\375\000\001\000\005\000\000\000\052\022\064\126\170\000\001\200\000\201\312\000\003\021\042\063\104\001\005vgate\000' > "$here/corpus/rtcp/sr-sdes"
printf '\200\311\000\001\000\000\000\007\201\312\000\003\000\000\000\007\001\005vgate\000\201\313\000\003\000\000\000\007\006hangup\000' > "$here/corpus/rtcp/rr-sdes-bye"
echo "seeded $(ls "$here/corpus/rtcp" | wc -l) files into $here/corpus/rtcp"

# Relay: [suite][records of selector, gap ms, length, datagram]: A's RTP (PCMA), an RFC 4733
# event on A, a play on B, more voice, a stranger's packet (see fuzz_targets/relay.rs).
mkdir -p "$here/corpus/relay"
python3 - "$here/corpus/relay/call" <<'PY'
import struct, sys
def rtp(pt, seq, ts, payload, marker=False):
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq, ts, 0x1234) + payload
def rec(sel, gap, data):
    return bytes([sel, gap, len(data)]) + data
out = bytes([0])
for k in range(5):
    out += rec(0x20, 20, rtp(8, k, 160 * k, bytes([0xd5]) * 160))
for k, end in enumerate([0, 0, 0x80, 0x80, 0x80]):
    out += rec(0x20, 20, rtp(101, 5 + k, 800, bytes([5, end | 10, 0, 160 * (k + 1) & 0xff]), k == 0))
out += rec(0x03, 20, b"")
out += rec(0x25, 20, rtp(0, 1, 0, bytes([0xff]) * 160))
open(sys.argv[1], "wb").write(out)
PY
echo "seeded $(ls "$here/corpus/relay" | wc -l) files into $here/corpus/relay"
