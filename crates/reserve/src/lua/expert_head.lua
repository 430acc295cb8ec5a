-- Shared head of every script that works on one expert's keys: the keys, Redis'
-- clock and the version's one write path. Every such script but verify.lua
-- goes on with expert_prelude.lua (caps, reaping). All their keys carry the
-- `{expert:<id>}` hash tag, so each script touches one hash slot and runs
-- unchanged on Redis Cluster.
--   KEYS[1] open   ZSET slot -> starts_ms   open: neither held nor booked (hold.lua relies on it)
--   KEYS[2] slots  HASH slot -> "starts_ms:ends_ms:priority_until_ms:local_day:day_cap:local_week:week_cap"
--                  (a cap 0: no cap; an index from before caps lacks the day's
--                  or the week's fields)
--   KEYS[3] hold_expiry ZSET slot -> hold expiry ms
--   KEYS[4] hold_owner  HASH slot -> "hold_id:seeker_id"
--   KEYS[5] booked SET  slot
--   KEYS[6] version STRING  moves on every write to the five keys above
local K_OPEN, K_SLOTS, K_HOLD_EXPIRY, K_HOLD_OWNER, K_BOOKED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_VERSION = KEYS[6]

-- Every write to the expert's keys goes through here. The first in a script
-- moves the version to Redis' clock in microseconds (one past the last
-- version if the clock is behind it), so an instance's copy of the open slots
-- read at one version is current exactly while the version is; and a version
-- written after a wipe or a restart is later than any copy read before it.
-- Redis' clock, read once: every API instance agrees on "now".
local clock = redis.call('TIME')
local version_moved = false
local function write(...)
  if not version_moved then
    version_moved = true
    local v = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
    local last = tonumber(redis.call('SET', K_VERSION, string.format('%d', v), 'GET') or '0') or 0
    if v <= last then redis.call('SET', K_VERSION, string.format('%d', last + 1)) end
  end
  return redis.call(...)
end

local function now_ms()
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

-- A time (ms) as an argument to Redis. Given a Lua number, Redis formats it
-- with "%.17g", a floating-point conversion that costs far more than "%d".
local function ms(n)
  return string.format('%d', n)
end
