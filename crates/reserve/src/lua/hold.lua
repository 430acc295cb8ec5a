-- The slot's side of a hold: the one atomic decision that makes a slot go to
-- exactly one seeker. ARGV[1..4]: slot, hold_id, seeker_id, priority_seeker
-- (1/0); HOLD_TTL_MS and CUTOFF_MS are the service's settings, written into
-- the script (`Scripts::load`). Returns {'ok', expires_ms}, or {'unknown'},
-- {'too_late'} or {'unavailable'}, having written nothing.
local function take_slot()
  local slot = ARGV[1]
  local m = meta(slot)
  if not m then return {'unknown'} end
  -- anxin_domain::booking::reservable, here where the hold is decided.
  if m.ends - CUTOFF_MS <= now then return {'too_late'} end
  if m.priority_until > now and ARGV[4] ~= '1' then return {'unavailable'} end
  -- The open set holds exactly the slots that are neither held nor booked:
  -- every script that adds to it checks both (open_again, reap), and holding
  -- or booking takes the slot out. So taking it out here is the decision,
  -- and only one caller can succeed.
  -- A full day's slots are not in the open set either (close_day_if_full).
  if write('ZREM', K_OPEN, slot) == 0 then return {'unavailable'} end
  local expires = ms(now + HOLD_TTL_MS)
  write('ZADD', K_HOLD_EXPIRY, expires, slot)
  write('HSET', K_HOLD_OWNER, slot, ARGV[2] .. ':' .. ARGV[3])
  close_day_if_full(m)
  return {'ok', expires}
end
