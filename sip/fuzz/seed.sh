#!/bin/sh
# Seeds the fuzz corpus (gitignored) with the RFC 4475 torture messages.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/parse"
for f in "$here"/../tests/torture/*/*.sip; do
    cp "$f" "$here/corpus/parse/$(basename "$(dirname "$f")")-$(basename "$f")"
done
echo "seeded $(ls "$here/corpus/parse" | wc -l) files into $here/corpus/parse"
# Digest challenges for the auth target: RFC 7616 and RFC 8760 forms.
mkdir -p "$here/corpus/auth"
printf '%s' 'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"' >"$here/corpus/auth/rfc7616"
printf '%s' 'Digest realm="sip.example", nonce="n", qop="auth", algorithm=SHA-512-256, stale=true' >"$here/corpus/auth/rfc8760"
printf '%s' 'digest realm=r,nonce=n,algorithm=MD5-sess,userhash=true,charset=UTF-8' >"$here/corpus/auth/md5-sess"
echo "seeded $(ls "$here/corpus/auth" | wc -l) files into $here/corpus/auth"
