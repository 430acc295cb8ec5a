#!/usr/bin/env bash
# Benchmarks Anxin on this machine and reports each figure as a ratio to the
# raw limits measured in the same run:
#   - redis-benchmark running a Lua script equivalent to a hold (50 clients);
#   - pgbench doing the durable insert a confirmation makes (16 clients): into
#     two bare tables, then the same rows into Anxin's schema, then through
#     confirm_booking() itself.
# Then starts `anxin serve` (release build, fresh database, own Redis prefix)
# and drives it: holds with wrk (a C client, as lean as redis-benchmark and
# pgbench are), slates with wrk (each request another seeker), then with the
# load generator hold + release cycles,
# confirmations, the full seeker flow, and 2,000 seekers racing for 50 slots.
# Ends with the Postgres checks (double bookings, lost bookings).
# Usage: ./loadtest/run.sh [quick|holds|cluster]
#   quick: smaller; holds: only raw limit 1 and the wrk hold and slate runs
#   (about a minute, for comparing builds: ANXIN_BIN=<path> serves with
#   another build of `anxin` than the one just built); confirm: the raw
#   limits and the confirmation run alone (for comparing builds the same
#   way); cluster: the raw limits, then the wrk hold, slate and confirmation
#   runs and the seeker flow twice, on the single Redis and on a local
#   Redis Cluster (scripts/redis-cluster, started if not running).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source loadtest/settings.sh
ensure_postgres
ensure_redis
ensure_command wrk wrk
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
SCALE=${1:-full}
SEEKERS=4000; [ "$SCALE" = quick ] && SEEKERS=800
HOLD_SECONDS=10; [ "$SCALE" = quick ] && HOLD_SECONDS=4
case "$SCALE" in full|quick|holds|confirm|cluster) ;; *) echo "usage: $0 [quick|holds|confirm|cluster]" >&2; exit 2;; esac
PORT=18090
DB=anxin_load
PREFIX="load-$(date +%s)"
OUT=out/loadtest; mkdir -p "$OUT"

# Postgres' CPU is the sum over its processes (one per connection), each
# counted from the mark, or from its start if it began after the mark, plus
# what its processes that ended meanwhile used (pgbench's connections end
# with it): the kernel adds that to the postmaster's children's time.
pg_ticks() { # "pid ticks" for each Postgres process now, and "reaped ticks"
  local p
  for p in $(pgrep -x postgres); do
    awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
  done
  awk '{print "reaped", $16 + $17}' "/proc/$(pgrep -o -x postgres)/stat" 2>/dev/null || true
}
pg_ticks_since() { # MARK_FILE: Postgres' clock ticks since pg_ticks wrote it
  pg_ticks | awk 'NR == FNR {t[$1] = $2; next} {s += $2 - ($1 in t ? t[$1] : 0)} END {print s + 0}' "$1" -
}
# The WAL Postgres has written (records, full-page images, bytes): a
# commit's cost follows it, and a page's first change after a checkpoint
# writes the whole page.
wal_now() {
  psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal" | tr '|' ' '
}
wal_per() { # MARK_FILE N WHAT
  local r0 f0 b0 r1 f1 b1
  read -r r0 f0 b0 <"$1"
  read -r r1 f1 b1 < <(wal_now)
  awk -v n="$2" -v what="$3" -v r="$((r1 - r0))" -v f="$((f1 - f0))" -v b="$((b1 - b0))" \
    'BEGIN { if (n > 0) printf "WAL per %s: %.1f records, %.2f full-page images, %.0f bytes\n", what, r / n, f / n, b / n }'
}

log "building (release)"
cargo build --release --locked -p anxin -p anxin-loadtest >/dev/null
ANXIN_BIN=${ANXIN_BIN:-$CARGO_TARGET_DIR/release/anxin}

log "raw limit 1: redis-benchmark, Lua hold-equivalent script, 50 clients"
HOLD_LUA="local s=ARGV[1] local m=redis.call('HGET',KEYS[1],s) if redis.call('SISMEMBER',KEYS[2],s)==1 then return 0 end if redis.call('ZSCORE',KEYS[3],s) then return 0 end redis.call('ZREM',KEYS[4],s) redis.call('ZADD',KEYS[3],1,s) redis.call('HSET',KEYS[5],s,'h') return 1"
redis-benchmark -h 127.0.0.1 -p 6379 -c 50 -n 200000 -r 1000000 -q \
  EVAL "$HOLD_LUA" 5 "bench:{e}:slots" "bench:{e}:booked" "bench:{e}:held" "bench:{e}:open" "bench:{e}:holds" "__rand_int__" \
  | tr '\r' '\n' | tail -n1 | tee "$OUT/redis-benchmark.txt"
redis-cli -h 127.0.0.1 del "bench:{e}:slots" "bench:{e}:booked" "bench:{e}:held" "bench:{e}:open" "bench:{e}:holds" >/dev/null
REDIS_RATE=$(grep -oE '[0-9.]+ requests per second' "$OUT/redis-benchmark.txt" | tail -n1 | cut -d' ' -f1)

if [ "$SCALE" != holds ]; then
log "raw limit 2: pgbench, durable booking + outbox insert into two bare tables, 16 clients"
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS anxin_pgbench" -qc "CREATE DATABASE anxin_pgbench" >/dev/null
psql -h 127.0.0.1 -U postgres -d anxin_pgbench -q <<'SQL'
CREATE TABLE b (id uuid PRIMARY KEY, slot_id uuid NOT NULL UNIQUE, seeker_id uuid NOT NULL, starts_at timestamptz NOT NULL, phone bytea, created_at timestamptz DEFAULT now());
CREATE TABLE t (id uuid PRIMARY KEY, booking_id uuid NOT NULL UNIQUE REFERENCES b(id), payload bytea NOT NULL, due_at timestamptz NOT NULL);
SQL
cat > "$OUT/confirm.sql" <<'SQL'
WITH booking AS (
  INSERT INTO b VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), now(), '\x0102030405060708090a0b0c0d0e0f'::bytea)
  RETURNING id
)
INSERT INTO t SELECT gen_random_uuid(), id, '\x0a0b0c'::bytea, now() FROM booking;
SQL
pgbench -h 127.0.0.1 -U postgres -n -c 16 -j 2 -T 15 -f "$OUT/confirm.sql" anxin_pgbench | tee "$OUT/pgbench.txt"
PG_RATE=$(grep -oE 'tps = [0-9.]+' "$OUT/pgbench.txt" | head -n1 | cut -d' ' -f3)

# Limits 3 and 4 run on Anxin's own schema: 600 experts with two weeks of
# slots (201,600), 1,000 seekers, and each transaction takes the next unused
# slot.
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS anxin_pgbench_real WITH (FORCE)" >/dev/null
ANXIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/anxin_pgbench_real "$ANXIN_BIN" migrate >/dev/null 2>&1
psql -h 127.0.0.1 -U postgres -d anxin_pgbench_real -q <<'SQL'
INSERT INTO experts (id, display_name, phone_ciphertext, phone_key_id, timezone, languages, specialties, region, status)
SELECT gen_random_uuid(), 'Bench ' || g, '\x00'::bytea, 'k1', 'UTC', ARRAY['zh'], ARRAY['anxiety'], 'hubei', 'approved'
  FROM generate_series(1, 600) g;
INSERT INTO slots (id, expert_id, starts_at, ends_at)
SELECT gen_random_uuid(), e.id, date_trunc('hour', now()) + make_interval(hours => k),
       date_trunc('hour', now()) + make_interval(hours => k + 1)
  FROM experts e, generate_series(1, 336) k;
INSERT INTO seekers (id, subject_hash) SELECT gen_random_uuid(), decode(md5(g::text), 'hex') FROM generate_series(1, 1000) g;
CREATE TABLE bench_slots AS SELECT row_number() OVER () AS n, id, expert_id, starts_at, ends_at FROM slots;
CREATE UNIQUE INDEX ON bench_slots (n);
CREATE TABLE bench_seekers AS SELECT row_number() OVER () AS n, id FROM seekers;
CREATE UNIQUE INDEX ON bench_seekers (n);
CREATE SEQUENCE bench_next;
VACUUM ANALYZE;
SQL
log "raw limit 3: pgbench, the same booking + call task rows into Anxin's schema, 16 clients"
# The durable insert a confirmation makes, with what guards it (one active
# booking per slot, no overlap per expert, the foreign keys, the events
# trigger), and nothing else: no advisory lock, no limit check.
cat > "$OUT/insert-real.sql" <<'SQL'
\set seeker random(1, 1000)
WITH booking AS (
  INSERT INTO bookings (id, slot_id, expert_id, seeker_id, hold_id, starts_at, ends_at, status, phone_ciphertext,
                        phone_key_id, phone_masked, priority_group, fee_minor, request_hash)
  SELECT gen_random_uuid(), s.id, s.expert_id, k.id, gen_random_uuid(), s.starts_at, s.ends_at, 'confirmed',
         '\x0102030405060708090a0b0c0d0e0f'::bytea, 'k1', '+86 138****0000', 'general', 1, '\x0a0b'::bytea
    FROM (SELECT nextval('bench_next') AS n) x JOIN bench_slots s ON s.n = x.n JOIN bench_seekers k ON k.n = :seeker
  RETURNING id, starts_at
)
INSERT INTO call_tasks (id, booking_id, payload, due_at) SELECT gen_random_uuid(), id, '\x0a0b0c'::bytea, starts_at FROM booking;
SQL
pg_ticks >"$OUT/postgres-ticks-insert"
wal_now >"$OUT/wal-mark-insert"
pgbench -h 127.0.0.1 -U postgres -n -c 16 -j 2 -T 15 -f "$OUT/insert-real.sql" anxin_pgbench_real | tee "$OUT/pgbench-insert-real.txt"
PG_INSERT_REAL_RATE=$(grep -oE 'tps = [0-9.]+' "$OUT/pgbench-insert-real.txt" | head -n1 | cut -d' ' -f3)
# Postgres' own CPU per insert, to set beside its CPU per confirmation.
PG_INSERT_REAL_CPU=$(awk -v ticks="$(pg_ticks_since "$OUT/postgres-ticks-insert")" -v hz="$(getconf CLK_TCK)" \
  -v n="$(grep -oE 'actually processed: [0-9]+' "$OUT/pgbench-insert-real.txt" | grep -oE '[0-9]+$')" \
  'BEGIN { printf "%.0f", ticks / hz * 1e6 / n }')
echo "CPU per insert: Postgres $PG_INSERT_REAL_CPU us" | tee -a "$OUT/pgbench-insert-real.txt"
wal_per "$OUT/wal-mark-insert" "$(grep -oE 'actually processed: [0-9]+' "$OUT/pgbench-insert-real.txt" | grep -oE '[0-9]+$')" "insert" | tee -a "$OUT/pgbench-insert-real.txt"

log "raw limit 4: pgbench calling confirm_booking() itself on Anxin's schema, 16 clients"
# What a confirmation's transaction asks of Postgres, without HTTP or Redis:
# limit 3 plus the advisory lock, the limit check, the check that the slot is
# still offered, and the worker's wake-up for calls due soon.
cat > "$OUT/confirm-real.sql" <<'SQL'
\set seeker random(1, 1000)
SELECT confirm_booking(gen_random_uuid(), s.id, s.expert_id, k.id, gen_random_uuid(), s.starts_at, s.ends_at,
                       '\x0102030405060708090a0b0c0d0e0f'::bytea, 'k1', '+86 138****0000', NULL::bytea, NULL::text, 'general', false, 1,
                       NULL, '\x0a0b'::bytea, 1000000, now(), gen_random_uuid(), '\x0a0b0c'::bytea,
                       interval '60 seconds', NULL::bytea, NULL::text)
  FROM (SELECT nextval('bench_next') AS n) x JOIN bench_slots s ON s.n = x.n JOIN bench_seekers k ON k.n = :seeker;
SQL
pgbench -h 127.0.0.1 -U postgres -n -c 16 -j 2 -T 15 -f "$OUT/confirm-real.sql" anxin_pgbench_real | tee "$OUT/pgbench-real.txt"
PG_REAL_RATE=$(grep -oE 'tps = [0-9.]+' "$OUT/pgbench-real.txt" | head -n1 | cut -d' ' -f3)
# A transaction that found no unused slot would insert nothing and still
# count: refuse figures from a run that used them all up.
read -r USED SLOTS < <(psql -h 127.0.0.1 -U postgres -d anxin_pgbench_real -Atc \
  "SELECT (SELECT last_value FROM bench_next), (SELECT count(*) FROM bench_slots)" | tr '|' ' ')
if [ "$USED" -ge "$SLOTS" ]; then
  echo "raw limits 3 and 4 used all $SLOTS slots: their figures would count empty transactions" >&2
  exit 1
fi
# The raw limits' databases are done with: drop them, and write their dirty
# pages out now, so neither autovacuum nor a checkpoint of theirs runs in the
# middle of Anxin's figures.
psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE anxin_pgbench WITH (FORCE)" \
  -c "DROP DATABASE anxin_pgbench_real WITH (FORCE)" >/dev/null
fi

# The service's default: one HTTP worker per core. ANXIN_HTTP_WORKERS=1
# serves with one: in a full run on these two cores it gave fewer
# confirmations, cycles and flows, and no steady gain in holds
# (docs/benchmarks.md).
WORKERS=${ANXIN_HTTP_WORKERS:-0}
# start_server DATABASE PREFIX [VAR=value...]: `anxin serve` on a fresh
# database, with the extra settings given.
start_server() {
  local db=$1 prefix=$2
  shift 2
  SERVER_DB=$db
  log "starting anxin serve on :$PORT (database $db, Redis prefix $prefix, $WORKERS HTTP worker(s); 0 = one per core${*:+; $*})"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  SERVER_ENV=(ANXIN_HTTP_WORKERS=$WORKERS ANXIN_LISTEN=127.0.0.1:$PORT ANXIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
    ANXIN_REDIS_PREFIX=$prefix "${LOAD_TEST_SETTINGS[@]}" "$@")
  env "${SERVER_ENV[@]}" "$ANXIN_BIN" serve > "$OUT/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0; sleep 1; done
  echo "anxin serve did not become ready; see $OUT/server.log" >&2
  return 1
}
stop_server() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap 'stop_server; drop_redis_prefix "$PREFIX"' EXIT
start_server "$DB" "$PREFIX"

LT="$CARGO_TARGET_DIR/release/anxin-loadtest --base http://127.0.0.1:$PORT --database-url postgres://postgres@127.0.0.1:5432/$DB"
# One client thread, as redis-benchmark has: the client shares the two cores
# with what it measures. wrk's own CPU per hold was 12-15 us with one thread
# and 15-16 us with two (/proc/<pid>/stat, two runs each). WRK_THREADS=2
# for two.
WRK_THREADS=${WRK_THREADS:-1}
# hold_run NAME: the wrk hold run against the server started last, into
# $OUT/NAME.txt; sets HOLD_RATE and HOLD_P99.
hold_run() {
  log "holds through HTTP: wrk ($WRK_THREADS thread(s)), 200 connections, ${HOLD_SECONDS}s, every hold on its own slot"
  # 1,000 seekers holding many slots each (the limits above are raised for
  # that; every check still runs), on ~215,000 slots of 320 experts: more than
  # wrk can use in the run (a slot asked for twice would answer 409).
  $LT --mode prepare-holds --seekers 1000 --experts 320 --out "$OUT/holds" | tee "$OUT/$1-prepare.txt"
  # The index records the rows it was built from, as it would have long
  # before a peak: otherwise the server's first periodic reconcile, a
  # minute after start, rebuilds the 320 new experts (about 7 s of Redis
  # work on 215,000 slots) inside whichever run is timed then.
  env "${SERVER_ENV[@]}" "$ANXIN_BIN" reconcile | tee -a "$OUT/$1-prepare.txt"
  # The same for what preparing wrote: out to disk before the clock starts.
  psql -h 127.0.0.1 -U postgres -d postgres -qc CHECKPOINT
  local before
  before=$(placed); before=${before:-0}
  cpu_mark
  wrk -t"$WRK_THREADS" -c200 -d"${HOLD_SECONDS}s" --timeout 5s -s loadtest/wrk/holds.lua "http://127.0.0.1:$PORT" \
    -- "$OUT/holds/tokens.txt" "$OUT/holds/slots.txt" "$WRK_THREADS" | tee "$OUT/$1.txt"
  # wrk counts answers, not holds: the server's own counter says how many
  # holds were placed (requests still in flight when wrk stopped included).
  local n
  n=$(awk "BEGIN{print $(placed) - $before}")
  echo "holds placed by the server's count (anxin_holds_total): $n" | tee -a "$OUT/$1.txt"
  cpu_per "$n" hold | tee -a "$OUT/$1.txt"
  HOLD_RATE=$(awk '/^holds placed \(2xx\)/{print $(NF-1)}' "$OUT/$1.txt")
  HOLD_P99=$(awk '$1=="hold" && NF==6{print $6}' "$OUT/$1.txt")
}
# CPU per request, which moves less with the machine than throughput does
# (docs/benchmarks.md, "Comparing builds"): the server's and Redis' CPU
# seconds over a wrk run, from /proc and INFO, divided by its requests.
cpu_now() { # the server's CPU (clock ticks) and Redis' (seconds), so far
  echo "$(awk '{print $14 + $15}' "/proc/$SERVER/stat")" \
    "$(redis-cli -h 127.0.0.1 INFO cpu | awk -F: '/^used_cpu_(user|sys):/{s += $2} END{print s}')"
}
cpu_mark() { # into files, so a mark taken in a pipeline's subshell counts
  cpu_now >"$OUT/cpu-mark"
  pg_ticks >"$OUT/postgres-ticks"
  wal_now >"$OUT/wal-mark"
  [ -n "${NODES:-}" ] || redis-cli -h 127.0.0.1 config resetstat >/dev/null
}
cpu_per() { # N WHAT (Redis' share only for the one Redis at :6379)
  local server redis postgres CPU_SERVER CPU_REDIS
  read -r CPU_SERVER CPU_REDIS <"$OUT/cpu-mark"
  read -r server redis < <(cpu_now)
  postgres=$(pg_ticks_since "$OUT/postgres-ticks")
  awk -v n="$1" -v what="$2" -v s0="$CPU_SERVER" -v s1="$server" -v r0="$CPU_REDIS" -v r1="$redis" -v hz="$(getconf CLK_TCK)" \
    -v pg="$postgres" -v cluster="${NODES:+1}" \
    'BEGIN { if (n > 0) { printf "CPU per %s: server %.1f us", what, (s1 - s0) / hz * 1e6 / n
                          if (!cluster) printf ", Redis %.1f us", (r1 - r0) * 1e6 / n
                          printf ", Postgres %.1f us\n", pg / hz * 1e6 / n } }'
  wal_per "$OUT/wal-mark" "$1" "$2"
  # The commands Redis ran meanwhile (every client's), per operation, with
  # the time Redis reports for each (the time of a script includes its calls).
  [ -n "${NODES:-}" ] || redis-cli -h 127.0.0.1 info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$1" -v what="$2" '
    /^cmdstat_/ && n > 0 && $3 / n >= 0.05 {
      line = line sprintf("%s %s %.2f (%.1f us each)", sep, substr($1, 9), $3 / n, $7); sep = ","
    }
    END { if (line != "") print "Redis commands per " what ":" line }'
}
# confirm_run: hold + confirm pairs driven by wrk (64 connections, each
# seeker holding a slot of its own and confirming it as soon as the hold is
# answered), into $OUT/confirm.txt; sets CONFIRM_RATE. Then checks Postgres:
# every booking wrk was told of is there, confirmed, and no slot has two.
confirm_run() {
  log "confirmations through HTTP: wrk, 64 connections, ${HOLD_SECONDS}s, each seeker holding a slot and confirming it"
  # 80 new experts (53,760 slots, more than the run can book) and 3 × $SEEKERS
  # new seekers, made known to the server before the clock starts.
  $LT --mode prepare-holds --seekers "$((SEEKERS * 3))" --experts 80 --out "$OUT/confirm" | tee "$OUT/confirm-prepare.txt"
  # A warm-up, not counted, on experts and seekers of its own: 2 s of the
  # same pairs, so the run starts with bookings in the table, as a running
  # service does. On a table Postgres last saw empty (the VACUUM ANALYZE
  # below), the plans a connection caches for confirm_booking's statements
  # can stay sequential scans until autovacuum next analyzes it (a minute
  # or more): 17,527 scans reading 162 M rows in one 10 s run
  # (pg_stat_user_tables), where pgbench, which plans every statement
  # afresh, pays nothing of the kind.
  $LT --mode prepare-holds --seekers "$SEEKERS" --experts 20 --out "$OUT/confirm-warm" >"$OUT/confirm-warm.txt"
  wrk -t1 -c64 -d2s --timeout 5s -s loadtest/wrk/confirmations.lua "http://127.0.0.1:$PORT" \
    -- "$OUT/confirm-warm/tokens.txt" "$OUT/confirm-warm/slots.txt" 1 "$OUT/confirm-warm/booked" >>"$OUT/confirm-warm.txt"
  grep "^bookings confirmed" "$OUT/confirm-warm.txt" | sed 's/^/warm-up, not counted: /'
  env "${SERVER_ENV[@]}" "$ANXIN_BIN" reconcile | tee -a "$OUT/confirm-prepare.txt"
  psql -h 127.0.0.1 -U postgres -d "$SERVER_DB" -qc "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
  rm -f "$OUT"/confirm/booked.*
  cpu_mark
  wrk -t1 -c64 -d"${HOLD_SECONDS}s" --timeout 5s -s loadtest/wrk/confirmations.lua "http://127.0.0.1:$PORT" \
    -- "$OUT/confirm/tokens.txt" "$OUT/confirm/slots.txt" 1 "$OUT/confirm/booked" | tee "$OUT/confirm.txt"
  if grep -q "^every prepared slot was held" "$OUT/confirm.txt"; then
    echo "the confirmation run outlasted its slots: prepare more experts" >&2
    exit 1
  fi
  local n
  n=$(awk '/^bookings confirmed \(201\)/{print $4}' "$OUT/confirm.txt")
  # Per confirmation, its hold included.
  cpu_per "$n" "confirmation (hold + confirm)" | tee -a "$OUT/confirm.txt"
  CONFIRM_RATE=$(awk '/^bookings confirmed \(201\)/{print $(NF-1)}' "$OUT/confirm.txt")
  cat "$OUT"/confirm/booked.* >"$OUT/confirm/booked.txt"
  psql -h 127.0.0.1 -U postgres -d "$SERVER_DB" -qAt <<SQL | tee -a "$OUT/confirm.txt"
CREATE TEMP TABLE told (id uuid);
\\copy told FROM '$OUT/confirm/booked.txt'
SELECT 'lost bookings: ' || count(*) FROM told WHERE NOT EXISTS
  (SELECT 1 FROM bookings b WHERE b.id = told.id AND b.status = 'confirmed');
SELECT 'double bookings: ' || count(*) FROM
  (SELECT slot_id FROM bookings WHERE status <> 'cancelled' GROUP BY slot_id HAVING count(*) > 1) d;
SQL
}
# Postgres' CPU per confirmation (its hold included) beside its CPU per
# insert of the same rows (raw limit 3): how near the confirmation's
# Postgres work is to the insert it makes.
postgres_share() {
  local per
  per=$(awk '/^CPU per confirmation/{print $(NF-1)}' "$OUT/confirm.txt")
  printf 'Postgres CPU per confirmation:        %8.0f us = %s%% of its CPU per same-rows insert (%s us)\n' \
    "$per" "$(awk "BEGIN{printf \"%.1f\", 100*$per/$PG_INSERT_REAL_CPU}")" "$PG_INSERT_REAL_CPU"
}
# The same pairs from the load generator (a Rust client, 64 at a time), as
# the runs before 2026-12-07 measured them; kept beside wrk's for comparison.
confirm_client_run() {
  log "confirmations through HTTP, load generator (hold + confirm, 64 concurrent clients, 3 × $SEEKERS seekers)"
  # The mark is taken when the clock starts (the line "mode …"), after the
  # experts and seekers are prepared.
  $LT --mode confirm --concurrency 64 --seekers "$((SEEKERS * 3))" --experts 40 |
    while IFS= read -r line; do
      printf '%s\n' "$line"
      case "$line" in "mode "*) cpu_mark ;; esac
    done | tee "$OUT/confirm-client.txt"
  CONFIRM_CLIENT_RATE=$(awk '$1=="confirm" && NF==6{print $3}' "$OUT/confirm-client.txt")
  cpu_per "$(awk '$1=="confirm" && NF==6{print $2}' "$OUT/confirm-client.txt")" "confirmation (hold + confirm)" |
    tee -a "$OUT/confirm-client.txt"
}
if [ "$SCALE" = confirm ]; then
  confirm_run
  confirm_client_run
  echo
  echo "== Summary (same run, this machine; anxin serve with ANXIN_HTTP_WORKERS=$WORKERS) =="
  printf 'pgbench same rows, Anxin schema:      %8.0f /s\n' "$PG_INSERT_REAL_RATE"
  printf 'pgbench confirm_booking() itself:     %8.0f /s\n' "$PG_REAL_RATE"
  printf 'confirmations through HTTP (wrk):     %8.0f /s  = %s%% of the same rows into Anxin schema\n' \
    "$CONFIRM_RATE" "$(awk "BEGIN{printf \"%.1f\", 100*$CONFIRM_RATE/$PG_INSERT_REAL_RATE}")"
  printf 'confirmations, load generator:        %8.0f /s  = %s%% of the same rows into Anxin schema\n' \
    "$CONFIRM_CLIENT_RATE" "$(awk "BEGIN{printf \"%.1f\", 100*$CONFIRM_CLIENT_RATE/$PG_INSERT_REAL_RATE}")"
  postgres_share
  grep -h "^lost bookings\|^double bookings\|^errors other" "$OUT/confirm.txt" "$OUT/confirm-client.txt"
  exit 0
fi
hold_run holds
# slate_run NAME: slates driven by wrk like holds (200 connections, each
# request the next of the 1,000 prepared seekers, all seen once already),
# over the experts the hold run prepared; sets SLATE_RATE and SLATE_WRK_P99.
slate_run() {
  log "slates through HTTP: wrk ($WRK_THREADS thread(s)), 200 connections, ${HOLD_SECONDS}s, each request another seeker"
  cpu_mark
  wrk -t"$WRK_THREADS" -c200 -d"${HOLD_SECONDS}s" --timeout 5s -s loadtest/wrk/slates.lua "http://127.0.0.1:$PORT" \
    -- "$OUT/holds/tokens.txt" | tee "$OUT/$1.txt"
  cpu_per "$(awk '/requests in/{print $1}' "$OUT/$1.txt")" slate | tee -a "$OUT/$1.txt"
  SLATE_RATE=$(awk '$1=="slate" && NF==6{print $3}' "$OUT/$1.txt")
  SLATE_WRK_P99=$(awk '$1=="slate" && NF==6{print $6}' "$OUT/$1.txt")
}
slate_run slates
pct() { awk "BEGIN{printf \"%.1f\", 100*$1/$2}"; }
verdict() { if awk "BEGIN{exit !($1)}"; then echo met; else echo "NOT met"; fi; }
HOLD_PCT=$(pct "$HOLD_RATE" "$REDIS_RATE")
hold_targets() {
  echo "holds >= 25% of redis-benchmark:                 $HOLD_PCT%   $(verdict "$HOLD_PCT >= 25")"
  echo "hold p99 < 20 ms at 200 connections:             $HOLD_P99 ms   $(verdict "$HOLD_P99 < 20")"
}
hold_summary() {
  printf 'redis-benchmark Lua hold-equivalent:  %8.0f /s\n' "$REDIS_RATE"
  printf 'holds through HTTP (wrk):             %8.0f /s  = %5s%% of Redis   (p99 %s ms at 200 clients)\n' "$HOLD_RATE" "$HOLD_PCT" "$HOLD_P99"
}
if [ "$SCALE" = cluster ]; then
  flow_run() {
    log "the seeker flow: slate → hold → confirm (100 concurrent clients)"
    $LT --mode flow --concurrency 100 --seekers 800 --experts 20 | tee "$OUT/$1.txt"
    SLATE_P99=$(awk '$1=="slate" && NF==6{print $6}' "$OUT/$1.txt")
    # A flow ends with its confirmation: confirmations/s are flows/s.
    FLOW_RATE=$(awk '$1=="confirm" && NF==6{print $3}' "$OUT/$1.txt")
  }
  flow_run flow-node
  confirm_run
  mv "$OUT/confirm.txt" "$OUT/confirm-node.txt"
  NODE_HOLD_RATE=$HOLD_RATE NODE_HOLD_P99=$HOLD_P99 NODE_SLATE_P99=$SLATE_P99 NODE_FLOW_RATE=$FLOW_RATE
  NODE_SLATE_RATE=$SLATE_RATE NODE_SLATE_WRK_P99=$SLATE_WRK_P99 NODE_CONFIRM_RATE=$CONFIRM_RATE
  stop_server
  drop_redis_prefix "$PREFIX"
  # A cluster this run starts, it stops; one already running (the tests')
  # keeps this run's keys until it stops.
  if redis-cli -p 7101 ping >/dev/null 2>&1; then
    trap 'stop_server' EXIT
  else
    trap 'stop_server; scripts/redis-cluster stop' EXIT
  fi
  NODES=$(scripts/redis-cluster start)
  PREFIX="$PREFIX-cluster"
  start_server "${DB}_cluster" "$PREFIX" ANXIN_REDIS_CLUSTER_NODES="$NODES"
  LT="$CARGO_TARGET_DIR/release/anxin-loadtest --base http://127.0.0.1:$PORT --database-url postgres://postgres@127.0.0.1:5432/${DB}_cluster"
  hold_run holds-cluster
  slate_run slates-cluster
  flow_run flow-cluster
  confirm_run
  mv "$OUT/confirm.txt" "$OUT/confirm-cluster.txt"
  HOLD_PCT=$(pct "$HOLD_RATE" "$REDIS_RATE")
  echo
  echo "== Summary (same run, this machine; anxin serve with ANXIN_HTTP_WORKERS=$WORKERS) =="
  printf 'redis-benchmark Lua hold-equivalent:  %8.0f /s  (one redis-server)\n' "$REDIS_RATE"
  printf 'holds, one Redis (wrk):               %8.0f /s  = %5s%% of Redis   (p99 %s ms at 200 clients)\n' \
    "$NODE_HOLD_RATE" "$(pct "$NODE_HOLD_RATE" "$REDIS_RATE")" "$NODE_HOLD_P99"
  printf 'holds, Redis Cluster 3+3 (wrk):       %8.0f /s  = %5s%% of Redis   (p99 %s ms at 200 clients) = %s%% of one Redis\n' \
    "$HOLD_RATE" "$HOLD_PCT" "$HOLD_P99" "$(pct "$HOLD_RATE" "$NODE_HOLD_RATE")"
  printf 'slates, one Redis (wrk):              %8.0f /s  = %5s%% of its holds   (p99 %s ms at 200 clients)\n' \
    "$NODE_SLATE_RATE" "$(pct "$NODE_SLATE_RATE" "$NODE_HOLD_RATE")" "$NODE_SLATE_WRK_P99"
  printf 'slates, Redis Cluster 3+3 (wrk):      %8.0f /s  = %5s%% of its holds   (p99 %s ms at 200 clients) = %s%% of one Redis\n' \
    "$SLATE_RATE" "$(pct "$SLATE_RATE" "$HOLD_RATE")" "$SLATE_WRK_P99" "$(pct "$SLATE_RATE" "$NODE_SLATE_RATE")"
  printf 'pgbench same rows, Anxin schema:      %8.0f /s  (the durable insert a confirmation makes)\n' "$PG_INSERT_REAL_RATE"
  printf 'confirmations, one Redis (wrk):       %8.0f /s  = %5s%% of the same-rows insert\n' \
    "$NODE_CONFIRM_RATE" "$(pct "$NODE_CONFIRM_RATE" "$PG_INSERT_REAL_RATE")"
  printf 'confirmations, Redis Cluster (wrk):   %8.0f /s  = %5s%% of the same-rows insert = %s%% of one Redis\n' \
    "$CONFIRM_RATE" "$(pct "$CONFIRM_RATE" "$PG_INSERT_REAL_RATE")" "$(pct "$CONFIRM_RATE" "$NODE_CONFIRM_RATE")"
  printf 'seeker flows, one Redis:              %8.0f /s  (slate p99 %s ms)\n' "$NODE_FLOW_RATE" "$NODE_SLATE_P99"
  printf 'seeker flows, Redis Cluster:          %8.0f /s  (slate p99 %s ms) = %s%% of one Redis\n' \
    "$FLOW_RATE" "$SLATE_P99" "$(pct "$FLOW_RATE" "$NODE_FLOW_RATE")"
  read -r DOUBLE LOST OTHER_ERRORS < <(awk '
    /^double bookings:/ { d += $3 }
    /^lost bookings:/ { l += $3 }
    /^errors other than 409\/429:/ { e += $5 }
    END { print d + 0, l + 0, e + 0 }' "$OUT"/flow-{node,cluster}.txt "$OUT"/confirm-{node,cluster}.txt)
  echo "errors other than 409/429: $OTHER_ERRORS; double bookings: $DOUBLE; lost bookings: $LOST"
  exit 0
fi
if [ "$SCALE" = holds ]; then
  echo
  echo "== Summary (same run, this machine; anxin serve with ANXIN_HTTP_WORKERS=$WORKERS) =="
  hold_summary
  printf 'slates through HTTP (wrk):            %8.0f /s  = %5s%% of holds        (p99 %s ms at 200 clients)\n' "$SLATE_RATE" "$(pct "$SLATE_RATE" "$HOLD_RATE")" "$SLATE_WRK_P99"
  echo
  echo "== Issue 3's hold targets, in this run =="
  hold_targets
  exit 0
fi
log "hold + release cycles (load generator, 200 concurrent clients)"
$LT --mode holds --concurrency 200 --seekers "$SEEKERS" --rounds 5 --experts 40 | tee "$OUT/cycles.txt"
# The hold, slate and cycle runs before it left ~150,000 event rows to
# write, vacuum and checkpoint: out of the way before the clock starts, as
# for the raw limits. (The confirmation run alone, `confirm`, was at 59-80 %
# of its insert when the full run's was at 40-59 %.)
# (confirm_run writes out, with VACUUM ANALYZE and CHECKPOINT, what the
# runs before left.)
confirm_run
confirm_client_run
log "the seeker flow: slate → hold → confirm (100 concurrent clients)"
$LT --mode flow --concurrency 100 --seekers "$SEEKERS" --experts 20 | tee "$OUT/flow.txt"
log "contended: 2,000 seekers racing for 50 slots"
$LT --mode race --concurrency 2000 --seekers 2000 --race-slots 50 --experts 1 | tee "$OUT/race.txt"

SLATE_P99=$(awk '$1=="slate" && NF==6{print $6}' "$OUT/flow.txt")
CYCLE_RATE=$(awk '$1=="hold" && NF==6{print $3}' "$OUT/cycles.txt")
CONFIRM_PCT=$(pct "$CONFIRM_RATE" "$PG_INSERT_REAL_RATE")
read -r RACE_BOOKINGS RACE_SLOTS < <(awk '/^race:/{print $2, $5}' "$OUT/race.txt")
# Every mode checks Postgres at its end; these are the totals over all four.
read -r DOUBLE LOST OTHER_ERRORS < <(awk '
  /^double bookings:/ { d += $3 }
  /^lost bookings:/ { l += $3 }
  /^errors other than 409\/429:/ { e += $5 }
  END { print d + 0, l + 0, e + 0 }' "$OUT"/{cycles,confirm,confirm-client,flow,race}.txt)
echo
echo "== Summary (same run, this machine; anxin serve with ANXIN_HTTP_WORKERS=$WORKERS) =="
printf 'pgbench booking+outbox, bare tables:  %8.0f /s\n' "$PG_RATE"
printf 'pgbench same rows, Anxin schema:      %8.0f /s   (the durable insert a confirmation makes)\n' "$PG_INSERT_REAL_RATE"
printf 'pgbench confirm_booking() itself:     %8.0f /s\n' "$PG_REAL_RATE"
hold_summary
printf 'hold + release cycles (load gen.):    %8.0f /s\n' "$CYCLE_RATE"
printf 'confirmations through HTTP (wrk):       %8.0f /s  = %s%% of the same rows into Anxin schema, %s%% of confirm_booking() alone, %s%% of the bare-table insert\n' \
  "$CONFIRM_RATE" "$CONFIRM_PCT" "$(pct "$CONFIRM_RATE" "$PG_REAL_RATE")" "$(pct "$CONFIRM_RATE" "$PG_RATE")"
printf 'confirmations, load generator:        %8.0f /s  = %s%% of the same rows into Anxin schema\n' \
  "$CONFIRM_CLIENT_RATE" "$(pct "$CONFIRM_CLIENT_RATE" "$PG_INSERT_REAL_RATE")"
postgres_share
printf 'slate p99 through HTTP (client side): %8s ms   (in the seeker flow, 100 clients)\n' "$SLATE_P99"
printf 'slates through HTTP (wrk):            %8.0f /s  = %5s%% of holds        (p99 %s ms at 200 clients)\n' "$SLATE_RATE" "$(pct "$SLATE_RATE" "$HOLD_RATE")" "$SLATE_WRK_P99"
echo
echo "== Issue 3's targets, in this run =="
hold_targets
echo "confirmations >= 40% of the equivalent insert:   $CONFIRM_PCT%   $(verdict "$CONFIRM_PCT >= 40")"
echo "2,000 seekers, 50 slots -> exactly 50 bookings:  $RACE_BOOKINGS bookings for $RACE_SLOTS slots   $(verdict "$RACE_BOOKINGS == 50 && $RACE_SLOTS == 50")"
echo "errors other than 409/429, every mode:           $OTHER_ERRORS"
echo "double bookings, every mode:                     $DOUBLE"
echo "lost bookings, every mode:                       $LOST"
SLATE_PCT=$(pct "$SLATE_RATE" "$HOLD_RATE")
echo
echo "== Issue 33's targets, in this run =="
echo "slates >= 50% of holds/s (wrk, 200 connections): $SLATE_PCT% ($SLATE_RATE /s)   $(verdict "$SLATE_PCT >= 50")"
echo "slate p99 <= 20 ms at 200 connections:           $SLATE_WRK_P99 ms   $(verdict "$SLATE_WRK_P99 <= 20")"
echo "holds >= 40% of redis-benchmark:                 $HOLD_PCT%   $(verdict "$HOLD_PCT >= 40")"
echo "hold p99 < 20 ms at 200 connections:             $HOLD_P99 ms   $(verdict "$HOLD_P99 < 20")"
echo "confirmations >= 80% of the same-rows insert:    $CONFIRM_PCT%   $(verdict "$CONFIRM_PCT >= 80")"
