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
