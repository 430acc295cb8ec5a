-- ARGV: slot, hold_id, seeker_id, ttl_ms, cutoff_ms, may_take_reserved (1/0)
local slot = ARGV[1]
local m = meta(slot)
if not m then return {'unknown'} end
if m.ends - tonumber(ARGV[5]) <= now then return {'too_late'} end
if m.reserved_until > now and ARGV[6] ~= '1' then return {'unavailable'} end
if is_booked(slot) or redis.call('ZSCORE', K_HELD, slot) then return {'unavailable'} end
local expires = now + tonumber(ARGV[4])
redis.call('ZREM', K_OPEN, slot)
redis.call('ZADD', K_HELD, expires, slot)
redis.call('HSET', K_HOLDS, slot, ARGV[2] .. ':' .. ARGV[3])
return {'ok', string.format('%d', expires)}
