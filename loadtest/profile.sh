#!/usr/bin/env bash
# Where a slate's time goes: serves the demo's 200 experts from a release
# build (fresh database, own Redis prefix), drives `GET /v1/slate` with wrk
# (200 connections, each request another of 2,000 seekers, every one seen
# once before the clock starts) and records a CPU profile of the whole
# machine with perf meanwhile. Prints wrk's figures and the profile's top
# entries (self time, by symbol; the release build keeps its symbol table),
# and keeps the full report in out/profile/.
# Usage: [ANXIN_BIN=<path>] ./loadtest/profile.sh [seconds]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
ensure_redis
ensure_command wrk wrk
ensure_command perf linux-perf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
SECONDS_RUN=${1:-15}
PORT=18095
demo_setup profile "$PORT"
"$BIN" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; drop_redis_prefix "$ANXIN_REDIS_PREFIX"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
log "2,000 seekers, each seen once"
for i in $(seq 1 2000); do "$BIN" token --role seeker --sub "profile-seeker-$i"; done >"$OUT/tokens.txt"
xargs -P 32 -I{} curl -s -o /dev/null -H "Authorization: Bearer {}" "http://127.0.0.1:$PORT/v1/slate" <"$OUT/tokens.txt"
log "wrk: slates, 200 connections, ${SECONDS_RUN}s, with perf recording the server"
perf record -F 499 -a -o "$OUT/perf.data" -- sleep "$SECONDS_RUN" 2>"$OUT/perf-record.log" &
PERF=$!
redis-cli -h 127.0.0.1 INFO all >"$OUT/redis-before.txt"
wrk -t1 -c200 -d"${SECONDS_RUN}s" -s loadtest/wrk/slates.lua "http://127.0.0.1:$PORT" -- "$OUT/tokens.txt" | tee "$OUT/wrk.txt"
redis-cli -h 127.0.0.1 INFO all >"$OUT/redis-after.txt"
wait $PERF || true
log "Redis per slate: commands, microseconds of Redis CPU, bytes each way (INFO deltas over the wrk run)"
python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
def read(name):
    stats, cmds = {}, {}
    for line in open(f"{out}/{name}"):
        m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+)", line)
        if m:
            cmds[m[1]] = (int(m[2]), int(m[3]))
        elif ":" in line:
            k, v = line.strip().split(":", 1)
            stats[k] = v
    return stats, cmds
(s0, c0), (s1, c1) = read("redis-before.txt"), read("redis-after.txt")
n = int(re.search(r"(\d+) requests in", open(f"{out}/wrk.txt").read())[1])
calls = {k: (v[0] - c0.get(k, (0, 0))[0], v[1] - c0.get(k, (0, 0))[1]) for k, v in c1.items()}
calls = {k: v for k, v in calls.items() if v[0] > 0 and k not in ("info",)}
total = sum(v[0] for v in calls.values()); usec = sum(v[1] for v in calls.values())
for k, (c, u) in sorted(calls.items(), key=lambda kv: -kv[1][0]):
    print(f"  {k:<16} {c / n:6.1f} per slate  {u / n:6.1f} us")
print(f"  {'all':<16} {total / n:6.1f} per slate  {usec / n:6.1f} us")
for k in ("total_net_input_bytes", "total_net_output_bytes"):
    print(f"  {k}: {(int(s1[k]) - int(s0[k])) / n:,.0f} bytes per slate")
PY
perf report -i "$OUT/perf.data" --no-children --sort comm --stdio --percent-limit 1 2>/dev/null >"$OUT/by-process.txt" || true
perf report -i "$OUT/perf.data" --no-children --pid "$SERVER" --sort symbol --stdio --percent-limit 0.5 2>/dev/null >"$OUT/report.txt" || true
log "the machine's samples by process (the server's threads are named after their runtime)"
grep -E '^ +[0-9.]+%' "$OUT/by-process.txt" | sed -E 's/ +$//' | head -12
log "the server's top entries (self time, share of the server's samples)"
grep -E '^ +[0-9.]+%' "$OUT/report.txt" | sed -E 's/ {3,}/ /g; s/ - - *$//' | cut -c1-140 | head -25
