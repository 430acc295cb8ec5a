#!/usr/bin/env bash
# Chaos run: breaks what Anxin depends on, one fault at a time, under
# contended seeker traffic, and prints what each fault cost.
#
# Method. Two `anxin serve` instances and one `anxin worker` (release build,
# simulated calls, a fresh database `anxin_chaos`, reconcile every 5 s) run on
# a private Redis started here on its own loopback port (never the shared one
# on 6379). The load generator's `chaos` mode runs 100 seekers against both
# instances, each looping slate -> hold -> (the token fee, once the service
# has one: `--pay`) -> confirm -> cancel, keeping some bookings; slots are
# 10 minutes long and running slots are bookable, so the worker dials calls
# during the run. A request whose connection is refused goes to the other
# instance, as a load balancer would send it. Every response is logged (time
# sent and answered, instance, step, status) to out/chaos/responses.tsv.
# With traffic running, and a quiet period after each, the faults are:
#   1. Redis kill -9, restarted empty after ~2 s;
#   2. Redis FLUSHALL;
#   3. Postgres immediate restart (the shared server: the other databases on
#      it see it too);
#   4. one API instance kill -9, started again after ~2 s;
#   5. the worker kill -9 while a call is live, started again after ~2 s
#      (its calls are taken over when their 30 s leases run out; the run
#      waits for that).
# At the end of each quiet period, an instance that confirmed no booking in
# the last 5 s has not recovered by itself: it is restarted, so the next
# fault is measured on a working service, and the fault is "not healed".
# `anxin-loadtest --mode chaos-report` then prints one row per fault, from the
# fault's injection to the next one's (loadtest/src/chaos/report.rs has the
# exact definitions): confirmed bookings lost, slots booked twice, duplicate
# live dials, 500s, seconds from the repair (Redis answering, Postgres
# answering, the process started again) until every instance has answered
# a confirmation sent after the repair with 201, and, for information, 503s
# and requests with no answer; answers count in the window they came in.
# Targets: 0 lost, 0 double, 0 duplicate dials, 0 500s, healed, resume
# within 2 s after the Redis faults and 5 s after the others. The script
# exits non-zero when one is missed.
#
# Usage: ./loadtest/chaos.sh   (3-4 minutes after the build; more when the
#                              shared Postgres' crash recovery is slow)
#   ANXIN_BIN=<path>           serve with another build of `anxin`
#   CHAOS_REDIS_PORT (16390), CHAOS_API_PORTS ("18190 18191"),
#   CHAOS_QUIET_SECONDS (15), CHAOS_BASELINE_SECONDS (10),
#   CHAOS_THINK_MS (0: each seeker's pause between passes)
# Output: out/chaos/ (summary.txt, responses.tsv, faults.tsv, every log).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_postgres
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/anxin-target}"
REDIS_PORT=${CHAOS_REDIS_PORT:-16390}
read -r -a API_PORTS <<<"${CHAOS_API_PORTS:-18190 18191}"
QUIET=${CHAOS_QUIET_SECONDS:-15}
BASELINE=${CHAOS_BASELINE_SECONDS:-10}
THINK_MS=${CHAOS_THINK_MS:-0}
DB=anxin_chaos
DB_URL=postgres://postgres@127.0.0.1:5432/$DB
PG_VERSION=$(ls /etc/postgresql | sort -V | tail -n1)
OUT=out/chaos
rm -rf "$OUT"
mkdir -p "$OUT/bin"

if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "something already answers on 127.0.0.1:$REDIS_PORT; set CHAOS_REDIS_PORT to a free port" >&2
  exit 1
fi
for port in "${API_PORTS[@]}"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
    echo "something already listens on 127.0.0.1:$port; set CHAOS_API_PORTS" >&2
    exit 1
  fi
done

log "building (release)"
cargo build --release --locked -p anxin -p anxin-loadtest >/dev/null
# Copies: the target directory is shared, and a build from another checkout
# may replace its binaries in the middle of the run.
cp "${ANXIN_BIN:-$CARGO_TARGET_DIR/release/anxin}" "$OUT/bin/anxin"
cp "$CARGO_TARGET_DIR/release/anxin-loadtest" "$OUT/bin/anxin-loadtest"
BIN=$OUT/bin/anxin
LT=$OUT/bin/anxin-loadtest
{
  echo "checkout: $(git rev-parse HEAD)$(git diff --quiet HEAD -- crates migrations proto Cargo.lock || echo ' (with uncommitted changes to the service)')"
  echo "anxin: ${ANXIN_BIN:-built from this checkout} ($(sha256sum "$BIN" | cut -c1-12))"
} | tee "$OUT/build.txt"

now_ms() { date +%s%3N; }
declare -A PID=()
# One line per process start, kill and reset (a restart because it had not
# recovered): the report ends a killed worker's calls at its kill, and marks
# a fault after which an instance had to be reset.
process_event() { printf '%s\t%s\t%s\n' "$1" "$2" "$(now_ms)" >>"$OUT/processes.tsv"; }
printf 'process\tevent\tms\n' >"$OUT/processes.tsv"
printf 'fault\tinjected_ms\trepaired_ms\tinstance\tresume_target_s\n' >"$OUT/faults.tsv"
fault() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/faults.tsv"; log "fault $1: repaired after $(( $3 - $2 )) ms"; }

# Says so if process $1 (a PID key) is no longer running, and how it ended.
report_if_dead() {
  kill -0 "${PID[$1]}" 2>/dev/null && return 1
  local status=0
  wait "${PID[$1]}" 2>/dev/null || status=$?
  log "$1 (pid ${PID[$1]}) had exited by itself, with status $status"
  echo "$1 exited by itself with status $status at $(now_ms)" >>"$OUT/unexpected-exits.txt"
}
cleanup() {
  local name
  for name in "${!PID[@]}"; do [ "$name" = driver ] || report_if_dead "$name" || true; done
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=0
    for name in "${!PID[@]}"; do kill -0 "${PID[$name]}" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  # The worker lets its calls finish on SIGTERM (minutes with simulated
  # calls): whatever is left after 6 s is killed.
  for name in "${!PID[@]}"; do kill -KILL "${PID[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until a command succeeds, at most $1 tenths of a second.
await() {
  local tenths=$1; shift
  for _ in $(seq 1 "$tenths"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
redis_answers() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }
postgres_answers() { PGCONNECT_TIMEOUT=2 psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc 'SELECT 1'; }

start_redis() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --logfile "$(pwd)/$OUT/redis.log" &
  PID[redis]=$!
  await 100 redis_answers || { echo "the private Redis did not answer on :$REDIS_PORT" >&2; exit 1; }
}

# What every Anxin process shares: the private Redis, the scratch database,
# simulated calls, a reconcile every 5 s; limits raised so the seekers' pace
# is not what refuses them; 10-minute slots bookable until 1 minute before
# their end (so a running slot's call is dialed at once), two days of them.
export ANXIN_REDIS_URL=redis://127.0.0.1:$REDIS_PORT ANXIN_REDIS_PREFIX=chaos ANXIN_DATABASE_URL=$DB_URL \
  ANXIN_CALL_PROVIDER=simulated ANXIN_PAYMENT_PROVIDER=none ANXIN_RECONCILE_INTERVAL_SECONDS=5 ANXIN_LOG_FORMAT=json \
  ANXIN_HOLDS_PER_MINUTE_PER_IP=100000000 ANXIN_HOLDS_PER_MINUTE_PER_SEEKER=100000000 \
  ANXIN_MAX_HOLDS_PER_SEEKER=1000000 ANXIN_MAX_ACTIVE_BOOKINGS=1000000 ANXIN_PRIORITY_SHARE=0 \
  ANXIN_BOOKING_CUTOFF_MINUTES=1 ANXIN_HORIZON_DAYS=2

start_api() {
  local i=$1
  ANXIN_LISTEN=127.0.0.1:${API_PORTS[$i]} RUST_LOG=warn "$BIN" serve >>"$OUT/serve-$i.log" 2>&1 &
  PID[api$i]=$!
  process_event "serve-$i" start
}
api_ready() { curl -sf "http://127.0.0.1:${API_PORTS[$1]}/readyz"; }
WORKERS=0
start_worker() {
  WORKERS=$((WORKERS + 1))
  RUST_LOG=info "$BIN" worker >"$OUT/worker-$WORKERS.log" 2>&1 &
  PID[worker]=$!
  process_event "worker-$WORKERS" start
}
# kill -9 one of the processes started here, by its id.
kill_hard() { kill -KILL "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"; }
# Whether instance $1 answered a confirmation with 201 in the last 5 s (the
# driver writes its log out every 100 ms).
confirming() {
  awk -F'\t' -v i="$1" -v since="$(( $(now_ms) - 5000 ))" \
    '$3 == i && $4 == "confirm" && $5 == 201 && $2 >= since { found = 1 } END { exit !found }' "$OUT/responses.tsv"
}
# At the end of a fault's quiet period: an instance that confirmed nothing in
# the last 5 s has not recovered by itself. It is restarted, so that the next
# fault is measured on a working service; the report marks the fault "not
# healed" and stops its resume clock there.
restart_unrecovered() {
  local i
  for i in 0 1; do
    confirming "$i" && continue
    log "instance $i confirmed nothing in the last 5 s: it has not recovered; restarting it"
    process_event "serve-$i" reset
    report_if_dead "api$i" || kill_hard "api$i"
    start_api "$i"
    await 300 api_ready "$i" || log "instance $i is not ready 30 s after its restart"
  done
}

log "private Redis on 127.0.0.1:$REDIS_PORT; fresh database $DB"
start_redis
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
"$BIN" migrate >"$OUT/migrate.log" 2>&1
start_api 0
start_api 1
start_worker
for i in 0 1; do await 600 api_ready "$i" || { echo "instance $i did not become ready" >&2; exit 1; }; done

BASES="http://127.0.0.1:${API_PORTS[0]},http://127.0.0.1:${API_PORTS[1]}"
log "driving 100 seekers against both instances"
"$LT" --mode chaos --base "$BASES" --database-url "$DB_URL" --experts 50 --seekers 100 --concurrency 100 \
  --slot-minutes 10 --think-ms "$THINK_MS" --seconds 480 --stop-file "$OUT/stop" --out "$OUT" >"$OUT/driver.txt" 2>&1 &
PID[driver]=$!
await 1200 test -f "$OUT/driving" || { echo "the driver did not start (see $OUT/driver.txt)" >&2; exit 1; }
sleep "$BASELINE"
for i in 0 1; do
  confirming "$i" || { echo "instance $i confirmed nothing before any fault (see $OUT/driver.txt)" >&2; exit 1; }
done

log "fault 1: Redis kill -9, restarted after 2 s"
T0=$(now_ms); kill_hard redis; sleep 2; start_redis; T1=$(now_ms)
fault redis-kill "$T0" "$T1" - 2
sleep "$QUIET"
restart_unrecovered

log "fault 2: Redis FLUSHALL"
T0=$(now_ms); redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null; T1=$(now_ms)
fault redis-flushall "$T0" "$T1" - 2
sleep "$QUIET"
restart_unrecovered

log "fault 3: Postgres immediate restart"
# Postgres may answer a while before pg_ctlcluster returns (seconds, when
# crash recovery syncs a data directory of many databases): the repair is
# the first answer after it went down, polled while the restart runs.
postgres_down() { ! postgres_answers; }
T0=$(now_ms)
pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main restart -m immediate >"$OUT/postgres-restart.log" 2>&1 &
PG_RESTART=$!
await 100 postgres_down || log "Postgres was not seen down within 10 s of the restart"
await 1200 postgres_answers || { echo "Postgres did not answer again within 120 s" >&2; exit 1; }
T1=$(now_ms)
wait "$PG_RESTART" || { echo "pg_ctlcluster restart failed (see $OUT/postgres-restart.log)" >&2; exit 1; }
fault postgres-restart "$T0" "$T1" - 5
sleep "$QUIET"
restart_unrecovered

log "fault 4: API instance 1 kill -9, started again after 2 s"
T0=$(now_ms); kill_hard api1; process_event serve-1 kill; sleep 2; start_api 1; T1=$(now_ms)
fault api-kill "$T0" "$T1" 1 5
await 300 api_ready 1 && log "instance 1 ready $(( $(now_ms) - T1 )) ms after its start"
sleep "$QUIET"
restart_unrecovered

log "fault 5: worker kill -9 while a call is live, started again after 2 s"
live_call() {
  [ "$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "
    SELECT count(*) FROM call_attempts a JOIN call_tasks t ON t.id = a.task_id
     WHERE a.ended_at IS NULL AND t.state = 'leased' AND t.lease_expires_at > now()")" -gt 0 ]
}
await 600 live_call || log "no call was live after 60 s of waiting: killing the worker anyway"
T0=$(now_ms); kill_hard worker; process_event "worker-$WORKERS" kill; sleep 2; start_worker; T1=$(now_ms)
fault worker-kill "$T0" "$T1" - 5
# The calls it had are dialed again once their leases (30 s) run out and the
# new worker's poll (15 s) finds them: wait until every interrupted call that
# is still due has been, so that a second live dial would be seen.
all_redialed() {
  [ "$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "
    SELECT count(*) FROM call_tasks t
     WHERE t.state IN ('pending', 'leased')
       AND t.id IN (SELECT task_id FROM call_attempts
                     WHERE started_at < to_timestamp($T0 / 1000.0)
                       AND (ended_at IS NULL OR ended_at > to_timestamp($T0 / 1000.0)))
       AND NOT EXISTS (SELECT 1 FROM call_attempts a
                        WHERE a.task_id = t.id AND a.started_at > to_timestamp($T1 / 1000.0))")" = 0 ]
}
await 700 all_redialed || log "not every interrupted call was dialed again within 70 s"
sleep 5
restart_unrecovered

log "stopping the traffic"
touch "$OUT/stop"
for _ in $(seq 1 300); do kill -0 "${PID[driver]}" 2>/dev/null || break; sleep 0.1; done
wait "${PID[driver]}" || { echo "the driver failed (see $OUT/driver.txt)" >&2; exit 1; }
unset "PID[driver]"
# Stopped before the report reads Postgres, so that no call starts between
# its reading the attempts there and in the worker's log.
kill_hard worker
process_event "worker-$WORKERS" kill

log "report"
"$LT" --mode chaos-report --database-url "$DB_URL" --out "$OUT" 2>&1 | tee "$OUT/summary.txt"
