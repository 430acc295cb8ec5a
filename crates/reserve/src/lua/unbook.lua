-- A booking was cancelled. ARGV: slot, reopen (1/0)
write('SREM', K_BOOKED, ARGV[1])
if ARGV[2] == '1' then
  open_again(ARGV[1])
  local m = meta(ARGV[1])
  if m then reopen_day(m) end
else
  write('HDEL', K_SLOTS, ARGV[1])
  write('ZREM', K_OPEN, ARGV[1])
end
return {'ok'}
