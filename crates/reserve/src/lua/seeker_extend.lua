-- Keeps the seeker's record of a live hold for at least ARGV[2] ms more (its
-- payment's time), as verify.lua does for the slot's side. KEYS as in
-- seeker_side.lua. ARGV: the hold's member ("hold_id|slot|expert"),
-- extend_ms. Returns {'ok'}, or {'gone'} when the hold lapsed or was dropped.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not score or score <= now then return {'gone'} end
local floor = now + tonumber(ARGV[2])
if score < floor then
  redis.call('ZADD', KEYS[1], string.format('%d', floor), ARGV[1])
end
local keep = redis.call('PEXPIRETIME', KEYS[1])
if keep >= 0 and keep < floor then
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', floor))
end
return {'ok'}
