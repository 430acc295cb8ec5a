#!/usr/bin/env bash
# What a hold costs Redis, in instructions: a figure that does not move with
# the machine's other load, as CPU time does, so two builds can be compared
# one run each. Serves Anxin (release build, fresh database) on a private
# redis-server on :6391 and prepares the load test's hold run there (320
# experts, about 215,000 slots, 1,000 seekers); restarts that Redis under
# valgrind (callgrind) on the same data; drives holds with wrk (20
# connections: under valgrind Redis is about fifty times slower), and counts
# Redis' instructions over that stretch only. Prints the instructions per
# hold placed and the scripts Redis ran per hold.
# Usage: [ANXIN_BIN=<path>] ./loadtest/redis-instructions.sh [seconds]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source loadtest/settings.sh
ensure_postgres
ensure_command wrk wrk
ensure_command valgrind valgrind
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
SECONDS_RUN=${1:-15}
PORT=18091
REDIS_PORT=6391
DB=anxin_instructions
OUT=out/redis-instructions
rm -rf "$OUT"; mkdir -p "$OUT"
log "building (release)"
cargo build --release --locked -p anxin -p anxin-loadtest >/dev/null
BIN=${ANXIN_BIN:-$CARGO_TARGET_DIR/release/anxin}

# The hold run is prepared on a plain redis-server (under valgrind, indexing
# 215,000 slots outlasts the requests' time limits), saved, and loaded by the
# one under valgrind; the server stays up across the restart and reconnects.
redis_up() {
  for _ in $(seq 1 200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.3; done
  echo "redis-server on :$REDIS_PORT did not start; see $OUT/redis.log" >&2
  return 1
}
REDIS_ARGS=(--port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD/$OUT" --dbfilename prepared.rdb)
log "redis-server on :$REDIS_PORT, for preparing"
redis-server "${REDIS_ARGS[@]}" >"$OUT/redis.log" 2>&1 &
REDIS=$!
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
redis_up

log "anxin serve on :$PORT (database $DB)"
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
env ANXIN_LISTEN=127.0.0.1:$PORT ANXIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB \
  ANXIN_REDIS_URL=redis://127.0.0.1:$REDIS_PORT ANXIN_REDIS_PREFIX=instructions "${LOAD_TEST_SETTINGS[@]}" \
  "$BIN" serve >"$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "anxin serve did not become ready; see $OUT/server.log" >&2; exit 1; }

log "preparing the hold run (slow: Redis runs under valgrind)"
"$CARGO_TARGET_DIR/release/anxin-loadtest" --base "http://127.0.0.1:$PORT" \
  --database-url "postgres://postgres@127.0.0.1:5432/$DB" \
  --mode prepare-holds --seekers 1000 --experts 320 --out "$OUT/holds" >"$OUT/prepare.txt"
log "saving what was prepared, and starting redis-server under callgrind on it"
redis-cli -p "$REDIS_PORT" SAVE >/dev/null
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
wait "$REDIS" 2>/dev/null || true
valgrind --tool=callgrind --callgrind-out-file="$PWD/$OUT/callgrind.%p" redis-server "${REDIS_ARGS[@]}" \
  >>"$OUT/redis.log" 2>&1 &
REDIS=$!
redis_up
# The server's connections notice the restart on their next command.
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.3; done
evalsha() { redis-cli -p "$REDIS_PORT" INFO commandstats | awk -F'[=,:]' '/^cmdstat_(evalsha|eval):/{n += $3} END{print n + 0}'; }

log "wrk: holds, 20 connections, ${SECONDS_RUN}s; Redis' instructions counted from here"
before=$(placed); before=${before:-0}
scripts_before=$(evalsha)
callgrind_control --zero "$REDIS" >/dev/null
wrk -t1 -c20 -d"${SECONDS_RUN}s" --timeout 10s -s loadtest/wrk/holds.lua "http://127.0.0.1:$PORT" \
  -- "$OUT/holds/tokens.txt" "$OUT/holds/slots.txt" 1 >"$OUT/wrk.txt"
callgrind_control --dump "$REDIS" >/dev/null
n=$(awk "BEGIN{print $(placed) - $before}")
scripts=$(awk "BEGIN{print $(evalsha) - $scripts_before}")
# The dump taken after the run: its total is the instructions since --zero.
dump="$OUT/callgrind.$REDIS.1"
for _ in $(seq 1 100); do [ -s "$dump" ] && break; sleep 0.3; done
ir=$(awk '/^(summary|totals):/{print $2; exit}' "$dump")
echo "holds placed: $n (wrk: $(awk '/requests in/{print $1}' "$OUT/wrk.txt") answers)"
awk -v ir="$ir" -v n="$n" -v s="$scripts" 'BEGIN {
  if (n <= 0) { print "no holds placed"; exit 1 }
  printf "Redis instructions per hold: %.0f (%.0f in all)\n", ir / n, ir
  printf "scripts Redis ran per hold: %.2f\n", s / n }'
