#!/usr/bin/env bash
# The slate at scale: 10,000 approved experts with 500,000 open slots (50
# each, hourly from now on), loaded straight into a scratch database, then
# `anxin serve` and a stream of seekers each asking for a fresh slate. Reports
# the server-side latency from the service's own histogram
# (anxin_http_request_duration_seconds{route="/v1/slate"}) and the
# client-side figures, and when the slow slates of the one-at-a-time phase
# came (the load generator's --trace).
# Usage: [SLATES=3000] [ROLLUP=off] ./loadtest/slate-10k.sh
#   SLATES: fresh slates a phase (more spans more of the background work's
#     periods: the events writer's batch every 100 ms, the draw's inputs
#     every 10 s);
#   ROLLUP=off: the scratch database's events go without the exposure
#     rollup's trigger, to measure what that trigger's upserts cost the
#     slates beside it (the dashboard's exposure is then wrong there).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
ensure_redis
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
PORT=18092
DB=anxin_slate10k
PREFIX="slate10k-$(date +%s)"
OUT=out/loadtest; mkdir -p "$OUT"
URL=postgres://postgres@127.0.0.1:5432/$DB

cargo build --release --locked -p anxin -p anxin-loadtest >/dev/null
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
ANXIN_DATABASE_URL=$URL "$CARGO_TARGET_DIR/release/anxin" migrate >/dev/null
log "loading 10,000 experts and 500,000 open slots"
psql -h 127.0.0.1 -U postgres -d "$DB" -q <<'SQL'
INSERT INTO experts (id, display_name, phone_ciphertext, phone_key_id, timezone, languages, specialties, region, status)
SELECT gen_random_uuid(), 'Expert ' || g, '\x00'::bytea, 'k1', 'UTC', ARRAY['zh'], ARRAY['anxiety'], 'hubei', 'approved'
  FROM generate_series(1, 10000) g;
INSERT INTO slots (id, expert_id, starts_at, ends_at)
SELECT gen_random_uuid(), e.id,
       date_trunc('hour', now()) + make_interval(hours => k + (hashtext(e.id::text) & 7)),
       date_trunc('hour', now()) + make_interval(hours => k + 1 + (hashtext(e.id::text) & 7))
  FROM experts e, generate_series(1, 50) k;
-- As after any bulk load: without statistics the planner takes the tables
-- for nearly empty, and the start-up rebuild's read of every open slot
-- runs a scan of all 500,000 per expert (over two minutes).
ANALYZE;
SQL
if [ "${ROLLUP:-on}" = off ]; then
  psql -h 127.0.0.1 -U postgres -d "$DB" -qc "ALTER TABLE events DISABLE TRIGGER events_exposure_insert"
fi
log "starting anxin serve (the start-up reconcile indexes all 500,000 slots in Redis)"
ANXIN_LISTEN=127.0.0.1:$PORT ANXIN_DATABASE_URL=$URL ANXIN_REDIS_PREFIX=$PREFIX ANXIN_PRIORITY_SHARE=0 RUST_LOG=warn \
  "$CARGO_TARGET_DIR/release/anxin" serve > "$OUT/slate10k-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; drop_redis_prefix "$PREFIX"' EXIT
for _ in $(seq 1 180); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
# Latency is measured twice: with one seeker at a time (what one slate costs)
# and with 8 at once (the machine saturated: then latency is mostly queueing,
# about 8 / throughput). Each phase's percentiles come from the difference of
# the histogram before and after it.
histogram() { # "le count" lines after a sentinel (there are none before the first slate)
  echo "sentinel 0"
  curl -s "http://127.0.0.1:$PORT/metrics" |
    { grep 'anxin_http_request_duration_seconds_bucket{method="GET",route="/v1/slate"' || true; } |
    sed -E 's/.*le="([^"]+)"\} ([0-9.e+]+)$/\1 \2/'
}
percentiles() { # $1: histogram before, $2: after
  awk 'FNR == NR { before[$1] = $2; next }
       $1 == "sentinel" { next }
       { les[++k] = $1; cum[k] = $2 - before[$1] }
       END { total = cum[k];
             split("50 95 99", qs, " ");
             for (i = 1; i <= 3; i++) for (j = 1; j <= k; j++) if (cum[j] >= total * qs[i] / 100) { printf "  p%s <= %s ms\n", qs[i], les[j] * 1000; break }
             printf "  requests: %d\n", total;
             for (j = 1; j <= k; j++) if (les[j] >= 0.003 && les[j] <= 0.0075) printf "  within %s ms: %.2f %%\n", les[j] * 1000, 100 * cum[j] / total }' "$1" "$2"
}
: > "$OUT/slate10k.txt"
for c in 1 8; do
  histogram > "$OUT/slate10k-before-c$c.txt"
  log "${SLATES:-3000} fresh slates, $c at a time"
  "$CARGO_TARGET_DIR/release/anxin-loadtest" --mode slate --base "http://127.0.0.1:$PORT" --database-url "$URL" \
    --experts 0 --seekers "${SLATES:-3000}" --concurrency $c --trace "$OUT/slate10k-trace-c$c.txt" | tee -a "$OUT/slate10k.txt"
  histogram > "$OUT/slate10k-after-c$c.txt"
  percentiles "$OUT/slate10k-before-c$c.txt" "$OUT/slate10k-after-c$c.txt" > "$OUT/slate10k-server-c$c.txt"
done
echo
echo "== Server-side /v1/slate latency, 10,000 experts / 500,000 open slots (the service's histogram) =="
for c in 1 8; do echo "$c at a time:"; cat "$OUT/slate10k-server-c$c.txt"; done
# When the slow slates of the one-at-a-time phase came: the usual time
# between two bursts of them and the seconds with the most say what they
# waited for
# (docs/benchmarks.md, "The slate at 10,000 experts").
echo
echo "== One at a time, client side: when the slates over 2 ms came =="
TRACE="$OUT/slate10k-trace-c1.txt"
awk '$2 > 2 { slow++ } END { printf "  %d of %d (%.2f %%)\n", slow, NR, NR ? 100 * slow / NR : 0 }' "$TRACE"
# Slow slates within 20 ms of each other are one burst.
sort -n "$TRACE" | awk '$2 > 2 { if (!seen || $1 - last > 0.02) { if (seen) print ($1 - start) * 1000; start = $1 }
                                  last = $1; seen = 1 }' | sort -n |
  awk '{ gap[NR] = $1 } END { if (NR) printf "  in %d bursts; median time between two bursts: %.0f ms\n", NR + 1, gap[int((NR + 1) / 2)] }'
awk '$2 > 2 { per[int($1)]++ } END { for (s in per) print per[s], s }' "$TRACE" | sort -nr | head -n 4 |
  awk '{ printf "  second %d of the run: %d\n", $2, $1 }'
