# Sourced by the load test's scripts: the settings `anxin serve` runs with
# under load, and reading its count of holds placed.
# Every check runs; the limits are raised so 1,000 seekers can hold many
# slots each, and the fee step is off (the booking path is measured).
LOAD_TEST_SETTINGS=(
  ANXIN_HOLDS_PER_MINUTE_PER_IP=100000000 ANXIN_HOLDS_PER_MINUTE_PER_SEEKER=100000000 ANXIN_MAX_HOLDS_PER_SEEKER=1000000
  ANXIN_PRIORITY_SHARE=0 ANXIN_PAYMENT_PROVIDER=none ANXIN_MAX_ACTIVE_BOOKINGS=1000
  ANXIN_LOG_FORMAT=json RUST_LOG=warn
)
# The holds the server on $PORT has placed so far (anxin_holds_total).
placed() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^anxin_holds_total\{result="placed"\}/{print $2}' | tail -n1; }
