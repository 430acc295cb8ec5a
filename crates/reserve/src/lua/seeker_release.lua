-- Drops the seeker's record of a hold. ARGV: hold_id, forget_idempotency (1/0)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' then redis.call('DEL', KEYS[3]) end
return {'ok'}
