-- The slots of this expert with a live hold. ARGV: none
return redis.call('ZRANGE', K_HELD, 0, -1)
