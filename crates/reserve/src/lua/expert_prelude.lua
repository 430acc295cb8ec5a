-- Shared head of every script that works on one expert's keys. All of them
-- carry the `{expert:<id>}` hash tag, so each script touches one hash slot and
-- runs unchanged on Redis Cluster.
--   KEYS[1] open   ZSET slot -> starts_ms   open: neither held nor booked (hold.lua relies on it)
--   KEYS[2] slots  HASH slot -> "starts_ms:ends_ms:priority_until_ms"
--   KEYS[3] hold_expiry ZSET slot -> hold expiry ms
--   KEYS[4] hold_owner  HASH slot -> "hold_id:seeker_id"
--   KEYS[5] booked SET  slot
local K_OPEN, K_SLOTS, K_HOLD_EXPIRY, K_HOLD_OWNER, K_BOOKED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- Redis' clock, not the caller's: every API instance agrees on "now".
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A time (ms) as an argument to Redis. Given a Lua number, Redis formats it
-- with "%.17g", a floating-point conversion that costs far more than "%d".
local function ms(n)
  return string.format('%d', n)
end

local function parse_meta(m)
  local s, e, r = string.match(m, '^(%d+):(%d+):(%d+)$')
  return { starts = tonumber(s), ends = tonumber(e), priority_until = tonumber(r) }
end

local function meta(slot)
  local m = redis.call('HGET', K_SLOTS, slot)
  if not m then return nil end
  return parse_meta(m)
end

local function is_booked(slot)
  return redis.call('SISMEMBER', K_BOOKED, slot) == 1
end

-- An expired hold gives its slot back here, inside whichever script next
-- touches this expert: correctness never waits for a sweeper.
local function reap(now)
  local expired = redis.call('ZRANGEBYSCORE', K_HOLD_EXPIRY, '-inf', ms(now))
  for _, slot in ipairs(expired) do
    redis.call('ZREM', K_HOLD_EXPIRY, slot)
    redis.call('HDEL', K_HOLD_OWNER, slot)
    local m = meta(slot)
    if m and not is_booked(slot) then
      redis.call('ZADD', K_OPEN, ms(m.starts), slot)
    end
  end
end

local function open_again(slot)
  local m = meta(slot)
  if m and not is_booked(slot) and not redis.call('ZSCORE', K_HOLD_EXPIRY, slot) then
    redis.call('ZADD', K_OPEN, ms(m.starts), slot)
  end
end

local now = now_ms()
reap(now)
