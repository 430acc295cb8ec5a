-- Rebuilds one expert's index from Postgres' truth. Live holds survive (they
-- only exist here); holds on slots that no longer exist are dropped. Booked
-- markers are only ever added here: the Postgres read may predate a booking
-- confirmed (and marked) since, and dropping its marker would reopen the
-- slot. A cancellation removes its marker itself (unbook.lua).
-- ARGV: n, then n pairs slot, meta, then the booked slots.
local n = tonumber(ARGV[1])
write('DEL', K_SLOTS, K_OPEN)
for i = 0, n - 1 do
  write('HSET', K_SLOTS, ARGV[2 + 2 * i], ARGV[3 + 2 * i])
end
for i = 2 + 2 * n, #ARGV do
  write('SADD', K_BOOKED, ARGV[i])
end
for _, slot in ipairs(redis.call('ZRANGE', K_HOLD_EXPIRY, 0, -1)) do
  if not redis.call('HEXISTS', K_SLOTS, slot) or is_booked(slot) then
    write('ZREM', K_HOLD_EXPIRY, slot)
    write('HDEL', K_HOLD_OWNER, slot)
  end
end
taken_cache = {}
for i = 0, n - 1 do
  open_again(ARGV[2 + 2 * i])
end
return {'ok'}
