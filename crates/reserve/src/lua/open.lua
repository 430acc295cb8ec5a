-- Open slots in a time range. ARGV: from_ms, to_ms, may_take_reserved, limit
-- Returns a flat list: slot, meta, slot, meta, ...
-- Reads the index a page at a time, so an expert with hundreds of open
-- slots costs only what is returned (plus the few skipped as reserved).
local out = {}
local limit = tonumber(ARGV[4])
local page = limit + 8
local offset = 0
while #out < 2 * limit do
  local ids = redis.call('ZRANGEBYSCORE', K_OPEN, ARGV[1], ARGV[2], 'LIMIT', offset, page)
  for _, slot in ipairs(ids) do
    if #out >= 2 * limit then break end
    local m = meta(slot)
    if m and m.ends > now and (ARGV[3] == '1' or m.reserved_until <= now) then
      table.insert(out, slot)
      table.insert(out, redis.call('HGET', K_SLOTS, slot))
    end
  end
  if #ids < page then break end
  offset = offset + page
end
return out
