-- Slots the expert no longer offers. Held or booked ones stay and are
-- returned as conflicts; the rest leave the index. ARGV: slot, slot, ...
local conflicts = {}
for _, slot in ipairs(ARGV) do
  if is_booked(slot) or redis.call('ZSCORE', K_HOLD_EXPIRY, slot) then
    table.insert(conflicts, slot)
  else
    write('HDEL', K_SLOTS, slot)
    write('ZREM', K_OPEN, slot)
  end
end
return conflicts
