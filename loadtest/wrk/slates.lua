-- wrk script for slates: every request is `GET /v1/slate` by the next of
-- the prepared seekers (a tokens file, one per line), so each request is
-- another seeker's and the per-seeker stability window never serves a
-- stored slate twice in a row.
-- Usage: wrk -t1 -c200 -d15s -s slates.lua URL -- <tokens file>
-- Every request is formatted once, before the clock starts (as holds.lua).

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function init(args)
  prepared = {}
  for i, token in ipairs(lines(args[1])) do
    prepared[i] = wrk.format("GET", "/v1/slate", { ["Authorization"] = "Bearer " .. token })
  end
  next_request = 0
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  print(string.format("\n%-8s %8s %10s %8s %8s %8s", "step", "count", "per_sec", "p50_ms", "p95_ms", "p99_ms"))
  print(string.format("%-8s %8d %10.0f %8.2f %8.2f %8.2f", "slate", summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
  print(string.format("\nanswers with status >= 400: %d", summary.errors.status))
end
