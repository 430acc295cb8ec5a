-- Open slots in a time range. ARGV: from_ms, to_ms, priority_seeker, limit
-- Returns a flat list: slot, meta, slot, meta, ...
-- Reads the index a page at a time (one HMGET for a page's metadata), so an
-- expert with hundreds of open slots costs only what is returned, plus the
-- few skipped as held back for priority. The slate calls this for ~30 experts per request.
local out = {}
local limit = tonumber(ARGV[4])
local page = limit + 4
local offset = 0
while #out < 2 * limit do
  local ids = redis.call('ZRANGEBYSCORE', K_OPEN, ARGV[1], ARGV[2], 'LIMIT', offset, page)
  if #ids == 0 then break end
  local metas = redis.call('HMGET', K_SLOTS, unpack(ids))
  for i, slot in ipairs(ids) do
    if #out >= 2 * limit then break end
    local raw = metas[i]
    if raw then
      local m = parse_meta(raw)
      if m.ends > now and (ARGV[3] == '1' or m.priority_until <= now) then
        out[#out + 1] = slot
        out[#out + 1] = raw
      end
    end
  end
  if #ids < page then break end
  offset = offset + page
end
return out
