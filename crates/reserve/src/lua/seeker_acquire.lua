-- The seeker's side of a hold on its own (see seeker_side.lua), for a Redis
-- Cluster, where it and the slot's side are in different hash slots. Run
-- before hold.lua, and undone by seeker_release.lua if the slot is refused.
-- ARGV: hold_id, slot, expert, the request's hash, has_idempotency (1/0).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local refused, state = seeker_check(now)
if refused then return refused end
return {'ok', seeker_write(now, state, true)}
