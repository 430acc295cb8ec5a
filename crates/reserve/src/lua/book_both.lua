-- Both sides of a confirmed booking in one script, where one Redis has both
-- (not a cluster): the slot marked booked (book.lua) and the seeker's record
-- of the hold dropped (seeker_release.lua), in one round trip.
-- KEYS: the expert's six (expert_head.lua), then the seeker's two.
-- ARGV: slot, the hold's member.
mark_booked(ARGV[1])
forget_hold(ARGV[2], '0')
return {'ok'}
