-- New or reopened slots. ARGV: slot, meta, slot, meta, ...
-- A slot on a day or in a week that is full (a cap just lowered, say) leaves
-- the open set.
for i = 1, #ARGV, 2 do
  write('HSET', K_SLOTS, ARGV[i], ARGV[i + 1])
end
taken_cache = {}
for i = 1, #ARGV, 2 do
  if full(parse_meta(ARGV[i + 1])) then
    write('ZREM', K_OPEN, ARGV[i])
  else
    open_again(ARGV[i])
  end
end
return {'ok'}
