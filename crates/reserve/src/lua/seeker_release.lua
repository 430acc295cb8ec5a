-- Drops the seeker's record of a hold. KEYS from S_KEYS + 1 as in
-- seeker_side.lua. Defines forget_hold(member, forget_idempotency): the
-- hold's member ("hold_id|slot|expert"), and '1' to drop the idempotency
-- record too.
local function forget_hold(member, forget_idempotency)
  redis.call('ZREM', KEYS[S_KEYS + 1], member)
  if forget_idempotency == '1' then redis.call('DEL', KEYS[S_KEYS + 2]) end
end
