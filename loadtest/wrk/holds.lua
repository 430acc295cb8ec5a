-- wrk script for the hold fast path: every request is `POST /v1/holds` on a
-- slot no other request of the run uses, by one of the prepared seekers
-- (`anxin-loadtest --mode prepare-holds` writes both lists and creates the
-- seekers first, so no request pays for a seeker's first sight).
-- Usage: wrk -t2 -c200 -d10s -s holds.lua URL -- <tokens file> <slots file> <threads>
-- Prints one line per status and the latency percentiles, in the load
-- generator's format.

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
  tokens = lines(args[1])
  local all = lines(args[2])
  -- Each thread takes every n-th slot, so no two requests share one.
  slots = {}
  for i = id + 1, #all, tonumber(args[3]) or 1 do slots[#slots + 1] = all[i] end
  next_slot = 0
  statuses = {}
end

function request()
  next_slot = next_slot + 1
  local slot = slots[(next_slot - 1) % #slots + 1]
  local token = tokens[(next_slot - 1) % #tokens + 1]
  return wrk.format("POST", "/v1/holds", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, '{"slot_id":"' .. slot .. '"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do counts[code] = (counts[code] or 0) + n end
  end
  local secs = summary.duration / 1e6
  local created = counts[201] or 0
  print(string.format("\n%-8s %8s %10s %8s %8s %8s", "step", "count", "per_sec", "p50_ms", "p95_ms", "p99_ms"))
  print(string.format("%-8s %8d %10.0f %8.2f %8.2f %8.2f", "hold", summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
  print("\nstatus counts:")
  for code, n in pairs(counts) do print(string.format("  hold     %d: %d", code, n)) end
  print(string.format("holds placed (201): %d in %.1f s = %.0f /s", created, secs, created / secs))
  print(string.format("socket errors: %d", summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
