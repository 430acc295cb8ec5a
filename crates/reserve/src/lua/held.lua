-- The slots of this expert with a live hold. ARGV: none
return redis.call('ZRANGE', K_HOLD_EXPIRY, 0, -1)
