-- Shared head of every script that works on one expert's keys. All of them
-- carry the `{expert:<id>}` hash tag, so each script touches one hash slot and
-- runs unchanged on Redis Cluster.
--   KEYS[1] open   ZSET slot -> starts_ms   open: neither held nor booked (hold.lua relies on it)
--   KEYS[2] slots  HASH slot -> "starts_ms:ends_ms:priority_until_ms:local_day:day_cap"
--                  (day_cap 0: no cap; an index from before caps lacks both)
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
  local s, e, r, rest = string.match(m, '^(%d+):(%d+):(%d+)(.*)$')
  local day, cap = string.match(rest, '^:(%d+):(%d+)$')
  return {
    starts = tonumber(s), ends = tonumber(e), priority_until = tonumber(r),
    day = tonumber(day) or 0, cap = tonumber(cap) or 0,
  }
end

local function meta(slot)
  local m = redis.call('HGET', K_SLOTS, slot)
  if not m then return nil end
  return parse_meta(m)
end

local function is_booked(slot)
  return redis.call('SISMEMBER', K_BOOKED, slot) == 1
end

-- max_sessions_per_day. A day's sessions are its slots held (by a live hold)
-- or booked. A day that has `cap` of them is full: none of its other slots is
-- in the open set, so holding one fails like holding a taken slot, and the
-- slate never lists them. Each script that takes a place closes the day when
-- it fills; each that frees one opens the day's slots again.
local taken_cache = {}
local function taken_on(day)
  if taken_cache[day] then return taken_cache[day] end
  local n = 0
  for _, s in ipairs(redis.call('ZRANGE', K_HOLD_EXPIRY, 0, -1)) do
    local o = meta(s)
    if o and o.day == day then n = n + 1 end
  end
  for _, s in ipairs(redis.call('SMEMBERS', K_BOOKED)) do
    local o = meta(s)
    if o and o.day == day then n = n + 1 end
  end
  taken_cache[day] = n
  return n
end

local function day_full(m)
  return m.cap > 0 and taken_on(m.day) >= m.cap
end

-- A slot's local day starts and ends within a day and an hour (DST) of it.
local DAY_REACH_MS = 26 * 3600 * 1000

-- After a place on m's day was taken: if that filled the day, its open
-- slots leave the open set.
local function close_day_if_full(m)
  taken_cache = {}
  if not day_full(m) then return end
  local near = redis.call('ZRANGEBYSCORE', K_OPEN, ms(m.starts - DAY_REACH_MS), ms(m.starts + DAY_REACH_MS))
  for _, s in ipairs(near) do
    local o = meta(s)
    if o and o.day == m.day then redis.call('ZREM', K_OPEN, s) end
  end
end

local function open_again(slot)
  local m = meta(slot)
  if m and not is_booked(slot) and not redis.call('ZSCORE', K_HOLD_EXPIRY, slot)
     and not day_full(m) then
    redis.call('ZADD', K_OPEN, ms(m.starts), slot)
  end
end

-- After a place on m's day was freed: the day's slots (the freed one among
-- them) are open again unless held or booked.
local function reopen_day(m)
  taken_cache = {}
  if m.cap == 0 then return end
  if day_full(m) then return end
  local all = redis.call('HGETALL', K_SLOTS)
  for i = 1, #all, 2 do
    local o = parse_meta(all[i + 1])
    if o.day == m.day then open_again(all[i]) end
  end
end

-- An expired hold gives its slot back here, inside whichever script next
-- touches this expert: correctness never waits for a sweeper.
local function reap(now)
  local expired = redis.call('ZRANGEBYSCORE', K_HOLD_EXPIRY, '-inf', ms(now))
  for _, slot in ipairs(expired) do
    redis.call('ZREM', K_HOLD_EXPIRY, slot)
    redis.call('HDEL', K_HOLD_OWNER, slot)
  end
  for _, slot in ipairs(expired) do
    local m = meta(slot)
    if m then
      taken_cache = {}
      open_again(slot)
      reopen_day(m)
    end
  end
end

local now = now_ms()
reap(now)
