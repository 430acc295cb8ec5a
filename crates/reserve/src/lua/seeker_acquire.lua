-- The seeker's side of a hold: idempotency, the shared hold rate limit, and
-- the active-hold limit, in that order (a replayed request costs no rate).
-- Keys carry the `{seeker:<id>}` hash tag.
--   KEYS[1] ZSET of the seeker's holds: member "hold_id|slot|expert", score
--           the hold's expiry (ms); plus the member '~rate', whose score is
--           the rate limit's theoretical arrival time (GCRA). One key, so a
--           hold writes one entry and no key of its own.
--   KEYS[2] the idempotency record
-- ARGV: hold_id, slot, expert, limit, ttl_ms, request_hash, idem_ttl_ms, has_idem,
--       rate_interval_ms, rate_burst
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[8] == '1' then
  local prev = redis.call('GET', KEYS[2])
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
local rate = redis.call('ZSCORE', KEYS[1], '~rate')
local tat = tonumber(rate) or now
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then return {'rate_limited', string.format('%d', allow_at - now)} end
local new_tat = tat + interval
-- Expired holds are dropped only when the count reaches the limit: the common
-- case costs one ZCARD, and the set still never holds more than `limit`.
local limit = tonumber(ARGV[4])
local holds = redis.call('ZCARD', KEYS[1]) - (rate and 1 or 0)
if holds >= limit then
  -- Also drops '~rate' if its time has passed; it is written again below.
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  holds = redis.call('ZCARD', KEYS[1]) - (redis.call('ZSCORE', KEYS[1], '~rate') and 1 or 0)
  if holds >= limit then return {'hold_limit'} end
end
local expires = now + tonumber(ARGV[5])
-- Times go to Redis as "%d" strings: given a Lua number, Redis formats it
-- with "%.17g", a floating-point conversion that costs far more.
local at = string.format('%d', expires)
redis.call('ZADD', KEYS[1], at, ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3],
  string.format('%d', new_tat), '~rate')
-- Never shortens the key's life: a hold kept alive for its payment
-- (seeker_extend.lua) may outlive this one.
local keep = redis.call('PEXPIRETIME', KEYS[1])
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.max(expires, new_tat, keep)))
if ARGV[8] == '1' then
  redis.call('SET', KEYS[2], ARGV[6] .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. at, 'PX', ARGV[7])
end
return {'ok', at}
