-- The seeker's side of a hold: idempotency, the shared hold rate limit, and
-- the active-hold limit, in that order (a replayed request costs no rate).
-- Keys carry the `{seeker:<id>}` hash tag.
--   KEYS[1] ZSET hold_id -> expiry ms   KEYS[2] STRING the hold   KEYS[3] idempotency record
--   KEYS[4] the rate limit's theoretical arrival time (GCRA)
-- ARGV: hold_id, slot, expert, limit, ttl_ms, request_hash, idem_ttl_ms, has_idem,
--       rate_interval_ms, rate_burst
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[8] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    local h, rest = string.match(prev, '^([^|]*)|(.*)$')
    if h ~= ARGV[6] then return {'idem_mismatch'} end
    return {'replay', rest}
  end
end
-- Generic cell rate algorithm: at most `burst` at once, one more every
-- `interval`; shared by every API instance.
local interval = tonumber(ARGV[9])
local burst = tonumber(ARGV[10])
local tat = tonumber(redis.call('GET', KEYS[4])) or now
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then return {'rate_limited', string.format('%d', allow_at - now)} end
local new_tat = tat + interval
redis.call('SET', KEYS[4], string.format('%d', new_tat), 'PX', math.max(1, new_tat - now))
-- Expired holds are dropped only when the count reaches the limit: the common
-- case costs one ZCARD, and the set still never holds more than `limit`.
local limit = tonumber(ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= limit then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= limit then return {'hold_limit'} end
end
local expires = now + tonumber(ARGV[5])
local at = string.format('%d', expires)
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('PEXPIREAT', KEYS[1], at)
-- The hold itself, "slot|expert|expires_ms", gone when the hold lapses.
redis.call('SET', KEYS[2], ARGV[2] .. '|' .. ARGV[3] .. '|' .. at, 'PXAT', at)
if ARGV[8] == '1' then
  redis.call('SET', KEYS[3], ARGV[6] .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. at, 'PX', ARGV[7])
end
return {'ok', at}
