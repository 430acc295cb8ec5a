-- The slot is booked (Postgres committed): mark it, and drop any hold on it.
-- Defines mark_booked(slot); book.lua's script calls it with ARGV[1], and
-- book_both.lua with its own arguments.
local function mark_booked(slot)
  write('SADD', K_BOOKED, slot)
  write('ZREM', K_OPEN, slot)
  write('ZREM', K_HOLD_EXPIRY, slot)
  write('HDEL', K_HOLD_OWNER, slot)
  -- Booked without a hold Redis knew of (a wipe in between): a place taken.
  local m = meta(slot)
  if m then close_day_if_full(m) end
end
