-- Both sides of a hold in one script, where one Redis has both (not a
-- cluster, whose hash slots part the seeker's keys from the expert's). The
-- seeker's checks, then the slot's decision, then the seeker's record: what
-- seeker_acquire.lua, hold.lua and, on a refusal, seeker_release.lua do in
-- three round trips, at once.
-- KEYS: the expert's six (expert_head.lua), then the seeker's two.
-- ARGV: the slot's side's four (hold.lua), then the expert, the request's
-- hash and has_idempotency (1/0) for the seeker's side (seeker_side.lua).
-- An unknown slot writes nothing, so the caller may rebuild the expert's
-- index and ask again; any other refusal spends the attempt's rate, as the
-- three scripts do.
local refused, state = seeker_check(now)
if refused then return refused end
local slot = take_slot()
if slot[1] == 'unknown' then return slot end
if slot[1] ~= 'ok' then
  seeker_write(now, state, false)
  return slot
end
return {'ok', seeker_write(now, state, true)}
