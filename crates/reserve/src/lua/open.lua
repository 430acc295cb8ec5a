-- Open slots in a time range. ARGV: from_ms, to_ms, may_take_reserved, limit
-- Returns a flat list: slot, meta, slot, meta, ...
local out = {}
local ids = redis.call('ZRANGEBYSCORE', K_OPEN, ARGV[1], ARGV[2])
local limit = tonumber(ARGV[4])
for _, slot in ipairs(ids) do
  if #out >= 2 * limit then break end
  local m = meta(slot)
  if m and m.ends > now and (ARGV[3] == '1' or m.reserved_until <= now) then
    table.insert(out, slot)
    table.insert(out, redis.call('HGET', K_SLOTS, slot))
  end
end
return out
