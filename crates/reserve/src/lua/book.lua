-- The slot is booked (Postgres committed): mark it, and drop any hold on it.
-- ARGV: slot
write('SADD', K_BOOKED, ARGV[1])
write('ZREM', K_OPEN, ARGV[1])
write('ZREM', K_HOLD_EXPIRY, ARGV[1])
write('HDEL', K_HOLD_OWNER, ARGV[1])
-- Booked without a hold Redis knew of (a wipe in between): a place taken.
local m = meta(ARGV[1])
if m then close_day_if_full(m) end
return {'ok'}
