#!/usr/bin/env bash
# What a slate costs the API server, in instructions: a figure that does not
# move with the machine's other load, as CPU time does, so two builds can be
# compared one run each. Serves the demo's 200 experts (release build, fresh
# database, own Redis prefix, one HTTP worker) under valgrind (callgrind),
# makes 200 seekers known with one slate each, then counts the server's
# instructions over SLATES more slates only (4 at a time, each request a new
# connection, as curl makes it). Prints the instructions per slate.
# Usage: [ANXIN_BIN=<path>] [SLATES=1000] ./loadtest/slate-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
ensure_redis
ensure_command valgrind valgrind
ensure_command callgrind_control valgrind
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
SLATES=${SLATES:-1000}
PORT=18096
demo_setup slate-instructions "$PORT"
export ANXIN_HTTP_WORKERS=1
log "anxin serve under valgrind (callgrind)"
valgrind --tool=callgrind --callgrind-out-file="$PWD/$OUT/callgrind.out" "$BIN" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; drop_redis_prefix "$ANXIN_REDIS_PREFIX"' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
for i in $(seq 1 200); do "$BIN" token --role seeker --sub "slate-instructions-$i"; done >"$OUT/tokens.txt"
# slates: one round of the 200 seekers, 4 at a time; every answer must be a 200.
slates() {
  xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer {}" \
    "http://127.0.0.1:$PORT/v1/slate" <"$OUT/tokens.txt" >>"$OUT/codes.txt"
}
log "200 seekers, each seen once (not counted)"
slates
sleep 2
callgrind_control -z "$SERVER" >/dev/null
log "$SLATES slates, counted"
: >"$OUT/codes.txt"
for _ in $(seq 1 $((SLATES / 200))); do slates; done
callgrind_control -d "$SERVER" >/dev/null
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
n=$(grep -c '^200$' "$OUT/codes.txt" || true)
total=$(wc -l <"$OUT/codes.txt")
if [ "$n" -ne "$total" ] || [ "$n" -eq 0 ]; then
  echo "only $n of $total slates answered 200" >&2
  exit 1
fi
# The dump asked for after zeroing is part 1.
ir=$(awk '/^summary:/{print $2}' "$OUT/callgrind.out.1")
echo "slates counted: $n"
awk -v ir="$ir" -v n="$n" 'BEGIN { printf "server instructions per slate: %.0f\n", ir / n }'
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
