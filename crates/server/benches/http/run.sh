#!/usr/bin/env bash
# HTTP load run: a trivial handler (/livez, the ceiling), a VIN-timeline read and a 100-VIN event
# submission, each with wrk against `jianghai demo` on the given store, in one run.
#
#   cargo build --release -p jianghai
#   crates/server/benches/http/run.sh [STORE_URL] [SECONDS]
#
# Needs wrk (Debian package wrk). The rate limit per token is lifted for the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${JIANGHAI_BIN:-$here/../../../../target/release/jianghai}"
tmp="$(mktemp -d)"
store="${1:-sqlite://$tmp/bench.db}"
secs="${2:-15}"
port="${JIANGHAI_BENCH_PORT:-18181}"
base="http://127.0.0.1:$port"
JIANGHAI_RATE_PER_SECOND=100000000 JIANGHAI_RATE_BURST=100000000 \
  "$bin" demo --store "$store" --listen "127.0.0.1:$port" >"$tmp/demo.out" 2>"$tmp/demo.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 120); do curl -sf "$base/livez" >/dev/null 2>&1 && break; sleep 0.5; done
token=$(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"exporter","password":"jianghai-demo-exporter"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
vin=$(grep -o 'timeline of [A-Z0-9]*' "$tmp/demo.out" | awk '{print $3}')
echo "store $store, ${secs}s per case, wrk -t2 -c16, VIN $vin"
run() {
  local name=$1; shift
  echo "== $name"
  wrk -t2 -c16 -d"${secs}s" --latency "$@" | grep -E 'Requests/sec|99%|50%|non-2xx|Non-2xx'
}
run "trivial handler (GET /livez)" "$base/livez"
run "VIN timeline (GET /api/v1/vehicles/{vin}/timeline, 10 events)" -s "$here/timeline.lua" "$base" -- "$token" "$vin"
run "100-VIN event (POST /api/v1/events, register)" -s "$here/register100.lua" "$base" -- "$token"
