#!/bin/sh
# Seeds the fuzz corpus (gitignored) with the RFC 4475 torture messages.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/parse"
for f in "$here"/../tests/torture/*/*.sip; do
    cp "$f" "$here/corpus/parse/$(basename "$(dirname "$f")")-$(basename "$f")"
done
echo "seeded $(ls "$here/corpus/parse" | wc -l) files into $here/corpus/parse"
