-- New or reopened slots. ARGV: slot, meta, slot, meta, ...
for i = 1, #ARGV, 2 do
  redis.call('HSET', K_SLOTS, ARGV[i], ARGV[i + 1])
  open_again(ARGV[i])
end
return {'ok'}
