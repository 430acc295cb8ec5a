-- wrk script for slates: every request is `GET /v1/slate` by the next of
-- the prepared seekers (a tokens file, one per line), so each request is
-- another seeker's and the per-seeker stability window never serves a
-- stored slate twice in a row.
-- Usage: wrk -t1 -c200 -d15s -s slates.lua URL -- <tokens file>
-- Every request is formatted once, before the clock starts (as holds.lua).

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

function init(args)
  prepared = {}
  for i, token in ipairs(common.lines(args[1])) do
    prepared[i] = wrk.format("GET", "/v1/slate", { ["Authorization"] = "Bearer " .. token })
  end
  next_request = 0
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  common.print_step("slate", summary, latency)
  print(string.format("\nanswers with status >= 400: %d", summary.errors.status))
end
