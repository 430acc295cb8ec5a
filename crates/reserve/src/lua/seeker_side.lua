-- The seeker's side of a hold: idempotency, the shared hold rate limit, and
-- the active-hold limit, in that order (a replayed request costs no rate).
-- Its keys carry the `{seeker:<id>}` hash tag. Included where `S_KEYS` and
-- `S_ARGS` say where its keys and arguments start: alone in
-- seeker_acquire.lua (both 0), and after the slot's side in hold_both.lua.
--   KEYS[S_KEYS+1] ZSET of the seeker's holds: member "hold_id|slot|expert",
--           score the hold's expiry (ms); plus the member '~rate', whose
--           score is the rate limit's theoretical arrival time (GCRA). One
--           key, so a hold writes one entry and no key of its own.
--   KEYS[S_KEYS+2] the idempotency record
-- ARGV[S_ARGS+1..]: hold_id, slot, expert, limit, ttl_ms, request_hash,
--       idem_ttl_ms, has_idem, rate_interval_ms, rate_burst
local K_SEEKER_HOLDS, K_IDEMPOTENCY = KEYS[S_KEYS + 1], KEYS[S_KEYS + 2]
local function seeker_arg(i) return ARGV[S_ARGS + i] end

-- The seeker's checks at `now` (ms). Returns the refusal to answer with, or
-- nil and the rate limit's next arrival time. Writes nothing but the
-- dropping of expired holds.
local function seeker_check(now)
  if seeker_arg(8) == '1' then
    local prev = redis.call('GET', K_IDEMPOTENCY)
    if prev then
      local h, rest = string.match(prev, '^([^|]*)|(.*)$')
      if h ~= seeker_arg(6) then return {'idem_mismatch'} end
      return {'replay', rest}
    end
  end
  -- Generic cell rate algorithm: at most `burst` at once, one more every
  -- `interval`; shared by every API instance.
  local interval = tonumber(seeker_arg(9))
  local burst = tonumber(seeker_arg(10))
  local rate = redis.call('ZSCORE', K_SEEKER_HOLDS, '~rate')
  local tat = tonumber(rate) or now
  if tat < now then tat = now end
  local allow_at = tat + interval - burst * interval
  if now < allow_at then return {'rate_limited', string.format('%d', allow_at - now)} end
  -- Expired holds are dropped only when the count reaches the limit: the
  -- common case costs one ZCARD, and the set still never holds more than
  -- `limit`.
  local limit = tonumber(seeker_arg(4))
  local holds = redis.call('ZCARD', K_SEEKER_HOLDS) - (rate and 1 or 0)
  if holds >= limit then
    -- Also drops '~rate' if its time has passed; it is written again after.
    redis.call('ZREMRANGEBYSCORE', K_SEEKER_HOLDS, '-inf', now)
    holds = redis.call('ZCARD', K_SEEKER_HOLDS) - (redis.call('ZSCORE', K_SEEKER_HOLDS, '~rate') and 1 or 0)
    if holds >= limit then return {'hold_limit'} end
  end
  return nil, tat + interval
end

-- After the checks passed: the attempt spends its place under the rate
-- limit, and, when `held`, the hold is recorded (with its idempotency
-- record). Returns the hold's expiry as written ("%d" ms).
local function seeker_write(now, new_tat, held)
  local expires = now + tonumber(seeker_arg(5))
  -- Times go to Redis as "%d" strings: given a Lua number, Redis formats it
  -- with "%.17g", a floating-point conversion that costs far more.
  local at = string.format('%d', expires)
  local rate_at = string.format('%d', new_tat)
  if held then
    redis.call('ZADD', K_SEEKER_HOLDS, at,
      seeker_arg(1) .. '|' .. seeker_arg(2) .. '|' .. seeker_arg(3), rate_at, '~rate')
  else
    redis.call('ZADD', K_SEEKER_HOLDS, rate_at, '~rate')
    expires = new_tat
  end
  -- Never shortens the key's life: a hold kept alive for its payment
  -- (seeker_extend.lua) may outlive this one.
  local keep = redis.call('PEXPIRETIME', K_SEEKER_HOLDS)
  redis.call('PEXPIREAT', K_SEEKER_HOLDS, string.format('%d', math.max(expires, new_tat, keep)))
  if held and seeker_arg(8) == '1' then
    redis.call('SET', K_IDEMPOTENCY,
      seeker_arg(6) .. '|' .. seeker_arg(1) .. '|' .. seeker_arg(2) .. '|' .. at, 'PX', seeker_arg(7))
  end
  return at
end
