#!/usr/bin/env bash
# Fetch gpsd's AIS regression corpus (test/sample.aivdm and its expected
# output test/sample.aivdm.js.chk) from Debian's gpsd source package into a
# cache directory OUTSIDE the repository, and print that directory.
#
#   dir=$(crates/ais/conformance/fetch-gpsd-corpus.sh)
#   JIANGHAI_GPSD_CORPUS=$dir cargo test -p jianghai-ais --test gpsd_conformance -- --nocapture
#
# The corpus is gpsd's (BSD-2-Clause); it is never committed here.
# Environment: GPSD_VERSION (default 3.22, Debian 12's), JIANGHAI_CACHE
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/jianghai).
set -euo pipefail

version="${GPSD_VERSION:-3.22}"
cache="${JIANGHAI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jianghai}"
dest="$cache/gpsd-corpus-$version"

if [[ -s "$dest/sample.aivdm" && -s "$dest/sample.aivdm.js.chk" ]]; then
    echo "$dest"
    exit 0
fi

mkdir -p "$cache"
tarball="$cache/gpsd_${version}.orig.tar.xz"
if [[ ! -s "$tarball" ]]; then
    url="http://deb.debian.org/debian/pool/main/g/gpsd/gpsd_${version}.orig.tar.xz"
    curl --fail --silent --show-error --location --retry 3 -o "$tarball.part" "$url" >&2
    mv "$tarball.part" "$tarball"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$tarball" -C "$tmp" --wildcards '*/test/sample.aivdm' '*/test/sample.aivdm.js.chk'
mkdir -p "$dest"
cp "$tmp"/*/test/sample.aivdm "$tmp"/*/test/sample.aivdm.js.chk "$dest/"
echo "$dest"
