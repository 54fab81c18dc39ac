#!/usr/bin/env bash
# Time the AIS decoding peers on one corpus, single thread each:
#   jianghai  (examples/decode_json: stdin -> gpsd JSON on stdout)
#   gpsdecode (gpsd 3.22, Debian gpsd-clients: `gpsdecode -j`)
#   pyais     (PyPI pyais 3.3.1 in a venv)
# and check that jianghai's JSON equals gpsdecode's byte for byte.
#
#   crates/ais/benches/peers/run_peers.sh /work/corpus/bench/ais-1m.nmea
#
# Needs: apt-get install -y gpsd-clients; python3 -m venv /work/venv &&
# /work/venv/bin/pip install pyais==3.3.1 (override with PYTHON=...).
set -euo pipefail
corpus="${1:?corpus file}"
passes="${PASSES:-3}"
python="${PYTHON:-/work/venv/bin/python}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$root" && cargo build --release -q -p jianghai-ais --example decode_json)
target="${CARGO_TARGET_DIR:-$root/target}"
ours="$target/release/examples/decode_json"
sentences=$(grep -c . "$corpus")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() { # prints wall seconds of "$@" < corpus > out
    local out="$1"; shift
    for _ in $(seq "$passes"); do
        local t0 t1
        t0=$(date +%s.%N); "$@" < "$corpus" > "$out"; t1=$(date +%s.%N)
        awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }'
    done | median
}

t_ours=$(time_cmd "$tmp/ours.jsonl" "$ours")
t_gpsd=$(time_cmd "$tmp/gpsd.jsonl" gpsdecode -j)
rate() { awk -v n="$sentences" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
printf 'jianghai  decode+JSON: %.2f s  %s sentences/s\n' "$t_ours" "$(rate "$t_ours")"
printf 'gpsdecode -j         : %.2f s  %s sentences/s\n' "$t_gpsd" "$(rate "$t_gpsd")"
tr -d '\r' < "$tmp/gpsd.jsonl" > "$tmp/gpsd.lf.jsonl"
if cmp -s "$tmp/ours.jsonl" "$tmp/gpsd.lf.jsonl"; then
    echo "output: identical to gpsdecode -j ($(wc -l < "$tmp/ours.jsonl") objects)"
else
    echo "output: DIFFERS from gpsdecode -j"; diff "$tmp/ours.jsonl" "$tmp/gpsd.lf.jsonl" | head -5
fi
"$python" "$here/pyais_decode.py" "$corpus" "$passes"
