#!/bin/sh
# Seeds the fuzz corpus (gitignored) with the repo's sample configurations.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/load"
for f in "$here"/../voxgate.toml "$here"/../contact-center.toml "$here"/../flows.toml; do
    cp "$f" "$here/corpus/load/$(basename "$f")"
done
echo "seeded $(ls "$here/corpus/load" | wc -l) files into $here/corpus/load"
