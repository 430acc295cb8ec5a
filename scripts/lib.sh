# Shared by scripts/test, scripts/run and .ci/run: bring up what Anxin needs on
# a fresh machine of this kind (Debian, root, local PostgreSQL and Redis).

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  log "PostgreSQL is not answering: starting it"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  log "Redis is not answering: starting it"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return; sleep 1; done
  echo "Redis did not come up on 127.0.0.1:6379" >&2; exit 1
}

# SIPp plays the phones and the trunk in the call tests; Chromium and its
# driver render the dashboard and the expert portal in the browser tests,
# with a CJK font so the Chinese pages (and their screenshots) read.
ensure_debian_packages() {
  local missing=()
  command -v sipp >/dev/null || missing+=(sip-tester)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-microhei)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# ensure_command COMMAND PACKAGE: installs the Debian package if the command
# is missing (the benchmark scripts' tools: wrk, perf, valgrind).
ensure_command() {
  command -v "$1" >/dev/null && return 0
  log "installing $2"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null
}

# What earlier test runs left behind: their databases, and their Redis keys
# (each test app has its own prefix, `test-<id>` or `test-ops-<id>`, and the
# call tests their own `anxin_test:<id>` streams).
drop_test_data() {
  local dbs
  dbs=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'anxin\_test\_%'" 2>/dev/null || true)
  for db in $dbs; do
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  drop_redis_prefix "test-*"
  drop_redis_prefix "anxin_test"
}

# Drops every key under a prefix: a benchmark's (half a million slots of an
# old run would slow the next one down) or an old test run's.
drop_redis_prefix() {
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "$1:*" | xargs -r -d '\n' -n 1000 redis-cli -h 127.0.0.1 -p 6379 del >/dev/null || true
}

# demo_setup NAME PORT: for the load test's scripts that serve the demo's
# experts. Empties out/NAME, builds the release binary (ANXIN_BIN=<path>
# serves another build instead), seeds a fresh database anxin_NAME and
# exports the server's settings (its own Redis prefix). Sets OUT, DB and BIN.
demo_setup() {
  local name=$1 port=$2
  OUT=out/$name
  DB=anxin_${name//-/_}
  rm -rf "$OUT"; mkdir -p "$OUT"
  log "building (release)"
  cargo build --release --locked -p anxin >/dev/null
  BIN=${ANXIN_BIN:-$CARGO_TARGET_DIR/release/anxin}
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  export ANXIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB ANXIN_REDIS_PREFIX="$name-$(date +%s)" \
    ANXIN_LISTEN=127.0.0.1:$port ANXIN_LOG_FORMAT=json RUST_LOG=warn ANXIN_CALL_PROVIDER=simulated
  "$BIN" seed-demo >"$OUT/seed.log" 2>&1
}
