-- wrk script for confirmations: each prepared seeker holds a slot of its own
-- (`POST /v1/holds`) and, as soon as the hold is answered, confirms it
-- (`POST /v1/bookings`), the pair a seeker makes in the app. Seekers and
-- slots come from `anxin-loadtest --mode prepare-holds` (every seeker created
-- first); seeker k holds slot k, so each seeker books once and no slot is
-- asked for twice.
-- Usage: wrk -t1 -c64 -d10s -s confirmations.lua URL -- <tokens> <slots> <threads> <bookings out>
-- Writes the id of every booking confirmed to "<bookings out>.<thread>", for
-- the check that Postgres has each of them; prints the figures in the load
-- generator's format.
--
-- Kept lean like holds.lua: the holds are formatted before the clock starts;
-- a confirmation is formatted when its hold's answer arrives (it needs the
-- hold's id). The answer names the slot, which names the seeker.

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local threads = {}
setup = common.numbering(threads)

function init(args)
  holds, seeker_of = common.hold_requests(args, id)
  next_hold, prepared = 0, #holds
  -- Held and not yet confirmed, oldest first.
  pending, first, last = {}, 1, 0
  held, confirmed, refused, unexpected, exhausted = 0, 0, 0, 0, false
  booked = io.open(args[4] .. "." .. id, "w")
end

function request()
  if first <= last then
    local c = pending[first]
    pending[first] = nil
    first = first + 1
    return c
  end
  -- Past the last prepared slot a hold would be refused (every slot is
  -- held already): the run is sized so that it isn't reached, and says so
  -- if it was.
  if next_hold >= #holds then exhausted = true end
  next_hold = math.min(next_hold + 1, #holds)
  return holds[next_hold]
end

function response(status, headers, body)
  if status ~= 201 then
    if status == 409 or status == 429 then refused = refused + 1 else unexpected = unexpected + 1 end
    return
  end
  local booking = body:match('"booking_id":"([%x%-]+)"')
  if booking then
    confirmed = confirmed + 1
    booked:write(booking, "\n")
    if confirmed % 256 == 0 then booked:flush() end
    return
  end
  local hold, slot = body:match('"hold_id":"([%x%-]+)"'), body:match('"slot_id":"([%x%-]+)"')
  if hold and seeker_of[slot] then
    held = held + 1
    last = last + 1
    pending[last] = wrk.format("POST", "/v1/bookings", {
      ["Authorization"] = seeker_of[slot],
      ["Content-Type"] = "application/json",
    }, '{"hold_id":"' .. hold .. '","phone":"+8613800000000"}')
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local held, confirmed, refused, unexpected, prepared = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    held = held + t:get("held")
    confirmed = confirmed + t:get("confirmed")
    refused = refused + t:get("refused")
    unexpected = unexpected + t:get("unexpected")
    prepared = prepared + t:get("prepared")
  end
  -- wrk keeps one latency histogram: holds and confirmations together.
  common.print_step("request", summary, latency)
  print(string.format("\nholds placed (201): %d", held))
  print(string.format("bookings confirmed (201): %d in %.1f s = %.0f /s", confirmed, secs, confirmed / secs))
  local sockets = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  print(string.format("answers 409 or 429: %d; socket errors: %d", refused, sockets))
  print(string.format("errors other than 409/429: %d", unexpected + sockets))
  if exhausted or held >= prepared then
    print("every prepared slot was held: the run outlasted its slots, and its rate is not a measurement")
  end
end
