-- The seeker's record of one live hold, found by its id. KEYS as in
-- seeker_side.lua. ARGV: hold_id.
-- Returns {member, expires_ms}, or {} when the hold is gone or has expired
-- (Redis' clock decides, as it does for every hold).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = ARGV[1] .. '|'
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  if string.sub(live[i], 1, #want) == want then return {live[i], live[i + 1]} end
end
return {}
