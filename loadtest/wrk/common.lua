-- What the wrk scripts share. Each loads it with
--   package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
--   local common = require("common")
local common = {}

-- The non-empty lines of a file (tokens, slot ids).
function common.lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

-- A `setup` that numbers the threads (the global `id` in each, from 0, so
-- thread `id` takes every n-th item) and keeps them in `threads` for `done`.
function common.numbering(threads)
  return function(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
  end
end

-- This thread's hold requests, formatted before the clock starts, from the
-- wrk arguments <tokens file> <slots file> <threads>: thread `id` takes
-- every n-th slot, so no two requests of the run share one, and the k-th
-- request is by the k-th seeker (wrapping around). Also returns each slot's
-- Authorization header, for what follows a hold.
function common.hold_requests(args, id)
  local tokens = common.lines(args[1])
  local all = common.lines(args[2])
  local step = tonumber(args[3]) or 1
  local requests, auth_of = {}, {}
  for i = id + 1, #all, step do
    local k = #requests + 1
    local auth = "Bearer " .. tokens[(k - 1) % #tokens + 1]
    auth_of[all[i]] = auth
    requests[k] = wrk.format("POST", "/v1/holds", {
      ["Authorization"] = auth,
      ["Content-Type"] = "application/json",
    }, '{"slot_id":"' .. all[i] .. '"}')
  end
  return requests, auth_of
end

-- The latency line in the load generator's format, under its header.
function common.print_step(step, summary, latency)
  local secs = summary.duration / 1e6
  print(string.format("\n%-8s %8s %10s %8s %8s %8s", "step", "count", "per_sec", "p50_ms", "p95_ms", "p99_ms"))
  print(string.format("%-8s %8d %10.0f %8.2f %8.2f %8.2f", step, summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end

return common
