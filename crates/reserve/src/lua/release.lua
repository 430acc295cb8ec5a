-- The holder lets go. ARGV: slot, hold_id, seeker_id
if redis.call('HGET', K_HOLD_OWNER, ARGV[1]) ~= ARGV[2] .. ':' .. ARGV[3] then return {'not_held'} end
write('ZREM', K_HOLD_EXPIRY, ARGV[1])
write('HDEL', K_HOLD_OWNER, ARGV[1])
open_again(ARGV[1])
local m = meta(ARGV[1])
if m then reopen_day(m) end
return {'ok'}
