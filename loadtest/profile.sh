#!/usr/bin/env bash
# Where a slate's time goes: serves the demo's 200 experts from a release
# build (fresh database, own Redis prefix), drives `GET /v1/slate` with wrk
# (200 connections, each request another of 2,000 seekers, every one seen
# once before the clock starts) and records a CPU profile of the serving
# process with perf meanwhile. Prints wrk's figures and the profile's top
# entries (self time, by symbol; the release build keeps its symbol table),
# and keeps the full report in out/profile/.
# Usage: ./loadtest/profile.sh [seconds]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
ensure_redis
command -v wrk >/dev/null || { log "installing wrk"; as_root apt-get update -qq; DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null; }
command -v perf >/dev/null || { log "installing linux-perf"; as_root apt-get update -qq; DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq linux-perf >/dev/null; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
SECONDS_RUN=${1:-15}
PORT=18095
DB=anxin_profile
OUT=out/profile
rm -rf "$OUT"; mkdir -p "$OUT"
log "building (release)"
cargo build --release --locked -p anxin >/dev/null
BIN=$CARGO_TARGET_DIR/release/anxin
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
export ANXIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB ANXIN_REDIS_PREFIX="profile-$(date +%s)" \
  ANXIN_LISTEN=127.0.0.1:$PORT ANXIN_LOG_FORMAT=json RUST_LOG=warn ANXIN_CALL_PROVIDER=simulated
"$BIN" seed-demo >"$OUT/seed.log" 2>&1
"$BIN" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; drop_redis_prefix "$ANXIN_REDIS_PREFIX"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
log "2,000 seekers, each seen once"
for i in $(seq 1 2000); do "$BIN" token --role seeker --sub "profile-seeker-$i"; done >"$OUT/tokens.txt"
xargs -P 32 -I{} curl -s -o /dev/null -H "Authorization: Bearer {}" "http://127.0.0.1:$PORT/v1/slate" <"$OUT/tokens.txt"
log "wrk: slates, 200 connections, ${SECONDS_RUN}s, with perf recording the server"
perf record -F 499 -p "$SERVER" -o "$OUT/perf.data" -- sleep "$SECONDS_RUN" 2>"$OUT/perf-record.log" &
PERF=$!
wrk -t1 -c200 -d"${SECONDS_RUN}s" -s loadtest/wrk/slates.lua "http://127.0.0.1:$PORT" -- "$OUT/tokens.txt" | tee "$OUT/wrk.txt"
wait $PERF || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio --percent-limit 0.5 2>/dev/null >"$OUT/report.txt" || true
log "top entries (self time)"
grep -E '^ +[0-9.]+%' "$OUT/report.txt" | head -25
