-- The slot is booked (Postgres committed): mark it, and drop any hold on it.
-- ARGV: slot
redis.call('SADD', K_BOOKED, ARGV[1])
redis.call('ZREM', K_OPEN, ARGV[1])
redis.call('ZREM', K_HELD, ARGV[1])
redis.call('HDEL', K_HOLDS, ARGV[1])
return {'ok'}
