-- Drops the seeker's record of a hold. KEYS as in seeker_side.lua.
-- ARGV: the hold's member ("hold_id|slot|expert"), forget_idempotency (1/0)
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return {'ok'}
