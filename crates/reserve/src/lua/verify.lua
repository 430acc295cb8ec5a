-- Is this hold live? ARGV: slot, hold_id, seeker_id, extend_ms.
-- A live hold is extended to at least now + extend_ms, so it can't lapse while
-- its confirmation is being written to Postgres.
-- After expert_head.lua alone: a check on every confirmation, it neither reaps
-- nor needs the caps. A hold past its expiry that no script has reaped yet is
-- as expired as a reaped one (reaping takes expiry <= now).
local owner = redis.call('HGET', K_HOLD_OWNER, ARGV[1])
if owner ~= ARGV[2] .. ':' .. ARGV[3] then return {'expired'} end
local now = now_ms()
local expires = tonumber(redis.call('ZSCORE', K_HOLD_EXPIRY, ARGV[1]))
if not expires or expires <= now then return {'expired'} end
local floor = now + tonumber(ARGV[4])
if expires < floor then write('ZADD', K_HOLD_EXPIRY, ms(floor), ARGV[1]) end
return {'ok'}
