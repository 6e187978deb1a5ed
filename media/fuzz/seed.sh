#!/bin/sh
# Seeds the fuzz corpus (gitignored) with the SDP fixtures of the round-trip tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/sdp"
for f in "$here"/../tests/sdp/*.sdp; do
    cp "$f" "$here/corpus/sdp/$(basename "$f")"
done
echo "seeded $(ls "$here/corpus/sdp" | wc -l) files into $here/corpus/sdp"
