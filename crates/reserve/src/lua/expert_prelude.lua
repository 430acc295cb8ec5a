-- The rest of the shared head of the scripts that change one expert's slots
-- (after expert_head.lua): their caps, and the reaping of expired holds.

local function parse_meta(m)
  local s, e, r, rest = string.match(m, '^(%d+):(%d+):(%d+)(.*)$')
  local day, cap, rest2 = string.match(rest, '^:(%d+):(%d+)(.*)$')
  local week, wcap = string.match(rest2 or '', '^:(%d+):(%d+)$')
  return {
    starts = tonumber(s), ends = tonumber(e), priority_until = tonumber(r),
    day = tonumber(day) or 0, cap = tonumber(cap) or 0,
    week = tonumber(week) or 0, wcap = tonumber(wcap) or 0,
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

-- max_sessions_per_day and max_sessions_per_week. A day's (a week's)
-- sessions are its slots held (by a live hold) or booked. A day or week that
-- has its cap of them is full: none of its other slots is in the open set, so
-- holding one fails like holding a taken slot, and the slate never lists
-- them. Each script that takes a place closes the day and week when they
-- fill; each that frees one opens their slots again.
local taken_cache = {}
-- Sessions taken in the period `field` (day or week) numbered `value`.
local function taken_in(field, value)
  local key = field .. ':' .. value
  if taken_cache[key] then return taken_cache[key] end
  local n = 0
  for _, s in ipairs(redis.call('ZRANGE', K_HOLD_EXPIRY, 0, -1)) do
    local o = meta(s)
    if o and o[field] == value then n = n + 1 end
  end
  for _, s in ipairs(redis.call('SMEMBERS', K_BOOKED)) do
    local o = meta(s)
    if o and o[field] == value then n = n + 1 end
  end
  taken_cache[key] = n
  return n
end

local function day_full(m)
  return m.cap > 0 and taken_in('day', m.day) >= m.cap
end

local function week_full(m)
  return m.wcap > 0 and taken_in('week', m.week) >= m.wcap
end

local function full(m)
  return day_full(m) or week_full(m)
end

-- A slot's local day starts and ends within a day and an hour (DST) of it;
-- its week within eight days.
local DAY_REACH_MS = 26 * 3600 * 1000
local WEEK_REACH_MS = 8 * 24 * 3600 * 1000

-- After a place on m's day was taken: if that filled its day or its week,
-- their open slots leave the open set.
local function close_day_if_full(m)
  taken_cache = {}
  local by_day, by_week = day_full(m), week_full(m)
  if not (by_day or by_week) then return end
  local reach = by_week and WEEK_REACH_MS or DAY_REACH_MS
  local near = redis.call('ZRANGEBYSCORE', K_OPEN, ms(m.starts - reach), ms(m.starts + reach))
  for _, s in ipairs(near) do
    local o = meta(s)
    if o and ((by_day and o.day == m.day) or (by_week and o.week == m.week)) then
      write('ZREM', K_OPEN, s)
    end
  end
end

local function open_again(slot)
  local m = meta(slot)
  if m and not is_booked(slot) and not redis.call('ZSCORE', K_HOLD_EXPIRY, slot)
     and not full(m) then
    write('ZADD', K_OPEN, ms(m.starts), slot)
  end
end

-- After a place on m's day was freed: the slots of its day and week (the
-- freed one among them) are open again unless held, booked or still full.
local function reopen_day(m)
  taken_cache = {}
  if m.cap == 0 and m.wcap == 0 then return end
  local all = redis.call('HGETALL', K_SLOTS)
  for i = 1, #all, 2 do
    local o = parse_meta(all[i + 1])
    if o.day == m.day or (m.wcap > 0 and o.week == m.week) then open_again(all[i]) end
  end
end

-- An expired hold gives its slot back here, inside whichever script next
-- touches this expert: correctness never waits for a sweeper.
local function reap(now)
  local expired = redis.call('ZRANGEBYSCORE', K_HOLD_EXPIRY, '-inf', ms(now))
  for _, slot in ipairs(expired) do
    write('ZREM', K_HOLD_EXPIRY, slot)
    write('HDEL', K_HOLD_OWNER, slot)
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
