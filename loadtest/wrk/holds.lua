-- wrk script for the hold fast path: every request is `POST /v1/holds` on a
-- slot no other request of the run uses, by one of the prepared seekers
-- (`anxin-loadtest --mode prepare-holds` writes both lists and creates the
-- seekers first, so no request pays for a seeker's first sight).
-- Usage: wrk -t1 -c200 -d10s -s holds.lua URL -- <tokens file> <slots file> <threads>
-- Prints the latency percentiles in the load generator's format, and how many
-- answers were not 2xx.
--
-- The client shares two cores with the server, Redis and Postgres, so it is
-- kept as lean as redis-benchmark and pgbench are: every request is formatted
-- once, before the clock starts, and there is no `response` callback (wrk
-- builds a Lua table of headers for each answer when there is one). wrk still
-- counts the answers with a status of 400 or more; `loadtest/run.sh` also
-- reads the server's own count of holds placed.

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local threads = {}
setup = common.numbering(threads)

function init(args)
  prepared = common.hold_requests(args, id)
  next_request = 0
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local failed = summary.errors.status
  common.print_step("hold", summary, latency)
  print(string.format("\nanswers with status >= 400: %d", failed))
  print(string.format("holds placed (2xx): %d in %.1f s = %.0f /s", summary.requests - failed, secs,
    (summary.requests - failed) / secs))
  print(string.format("socket errors: %d", summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
