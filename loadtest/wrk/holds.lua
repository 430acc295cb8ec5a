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

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function init(args)
  local tokens = lines(args[1])
  local all = lines(args[2])
  -- Each thread takes every n-th slot, so no two requests share one.
  local step = tonumber(args[3]) or 1
  prepared = {}
  for i = id + 1, #all, step do
    local k = #prepared + 1
    prepared[k] = wrk.format("POST", "/v1/holds", {
      ["Authorization"] = "Bearer " .. tokens[(k - 1) % #tokens + 1],
      ["Content-Type"] = "application/json",
    }, '{"slot_id":"' .. all[i] .. '"}')
  end
  next_request = 0
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local failed = summary.errors.status
  print(string.format("\n%-8s %8s %10s %8s %8s %8s", "step", "count", "per_sec", "p50_ms", "p95_ms", "p99_ms"))
  print(string.format("%-8s %8d %10.0f %8.2f %8.2f %8.2f", "hold", summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
  print(string.format("\nanswers with status >= 400: %d", failed))
  print(string.format("holds placed (2xx): %d in %.1f s = %.0f /s", summary.requests - failed, secs,
    (summary.requests - failed) / secs))
  print(string.format("socket errors: %d", summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
