-- The seeker's side of a hold: idempotency, the shared hold rate limit, and
-- the active-hold limit, in that order (a replayed request costs no rate).
-- Its keys carry the `{seeker:<id>}` hash tag. Included alone in
-- seeker_acquire.lua, and after the slot's side in hold_both.lua, each of
-- which first says where its keys start (`S_KEYS`) and names its arguments
-- (`S_HOLD`, `S_SLOT`, `S_EXPERT`, `S_REQUEST_HASH`, `S_HAS_IDEMPOTENCY`).
--   KEYS[S_KEYS+1] ZSET of the seeker's holds: member "hold_id|slot|expert",
--           score the hold's expiry (ms); plus the member '~rate', whose
--           score is the rate limit's theoretical arrival time (GCRA). One
--           key, so a hold writes one entry and no key of its own.
--   KEYS[S_KEYS+2] the idempotency record
-- The service's settings are written into the script (`Scripts::load`):
-- HOLD_LIMIT, HOLD_TTL_MS, IDEMPOTENCY_TTL_MS, RATE_INTERVAL_MS, RATE_BURST.
-- Every argument costs Redis more to take in than a line of Lua costs.
local K_SEEKER_HOLDS, K_IDEMPOTENCY = KEYS[S_KEYS + 1], KEYS[S_KEYS + 2]

-- The seeker's checks at `now` (ms). Returns the refusal to answer with, or
-- nil and what the write needs: the rate limit's next arrival time, and
-- whether the key existed. Writes nothing but the dropping of expired holds.
local function seeker_check(now)
  if S_HAS_IDEMPOTENCY == '1' then
    local prev = redis.call('GET', K_IDEMPOTENCY)
    if prev then
      local h, rest = string.match(prev, '^([^|]*)|(.*)$')
      if h ~= S_REQUEST_HASH then return {'idem_mismatch'} end
      return {'replay', rest}
    end
  end
  -- Generic cell rate algorithm: at most `burst` at once, one more every
  -- `interval`; shared by every API instance.
  local interval, burst = RATE_INTERVAL_MS, RATE_BURST
  local rate = redis.call('ZSCORE', K_SEEKER_HOLDS, '~rate')
  local tat = tonumber(rate) or now
  if tat < now then tat = now end
  local allow_at = tat + interval - burst * interval
  if now < allow_at then return {'rate_limited', string.format('%d', allow_at - now)} end
  -- Expired holds are dropped only when the count reaches the limit: the
  -- common case costs one ZCARD, and the set still never holds more than
  -- HOLD_LIMIT.
  local entries = redis.call('ZCARD', K_SEEKER_HOLDS)
  local holds = entries - (rate and 1 or 0)
  if holds >= HOLD_LIMIT then
    -- Also drops '~rate' if its time has passed; it is written again after.
    -- (The set may be gone after this: `entries` says so.)
    redis.call('ZREMRANGEBYSCORE', K_SEEKER_HOLDS, '-inf', now)
    entries = redis.call('ZCARD', K_SEEKER_HOLDS)
    holds = entries - (redis.call('ZSCORE', K_SEEKER_HOLDS, '~rate') and 1 or 0)
    if holds >= HOLD_LIMIT then return {'hold_limit'} end
  end
  return nil, {tat = tat + interval, existed = entries > 0}
end

-- After the checks passed (`state` is what seeker_check returned): the
-- attempt spends its place under the rate limit, and, when `held`, the hold
-- is recorded (with its idempotency record). Returns the hold's expiry as
-- written ("%d" ms).
local function seeker_write(now, state, held)
  local expires = now + HOLD_TTL_MS
  -- Times go to Redis as "%d" strings: given a Lua number, Redis formats it
  -- with "%.17g", a floating-point conversion that costs far more.
  local at = string.format('%d', expires)
  local rate_at = string.format('%d', state.tat)
  if held then
    redis.call('ZADD', K_SEEKER_HOLDS, at, S_HOLD .. '|' .. S_SLOT .. '|' .. S_EXPERT, rate_at, '~rate')
  else
    redis.call('ZADD', K_SEEKER_HOLDS, rate_at, '~rate')
    expires = state.tat
  end
  -- Never shortens the key's life: a hold kept alive for its payment
  -- (seeker_extend.lua) may outlive this one. Every write gives the key a
  -- life, so one that existed has one, and GT keeps the later of the two.
  local until_ms = string.format('%d', math.max(expires, state.tat))
  if state.existed then
    redis.call('PEXPIREAT', K_SEEKER_HOLDS, until_ms, 'GT')
  else
    redis.call('PEXPIREAT', K_SEEKER_HOLDS, until_ms)
  end
  if held and S_HAS_IDEMPOTENCY == '1' then
    redis.call('SET', K_IDEMPOTENCY, S_REQUEST_HASH .. '|' .. S_HOLD .. '|' .. S_SLOT .. '|' .. at,
      'PX', IDEMPOTENCY_TTL_MS)
  end
  return at
end
