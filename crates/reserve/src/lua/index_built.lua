-- Marks the index built, if the rebuild that claimed it still holds the
-- claim; or, with an empty ready value, gives the claim back. A Redis that
-- restarted (or was flushed) during the rebuild has lost the claim along
-- with what the rebuild had written, so the marker stays missing and the
-- rebuild runs again.
-- KEYS[1]: the index marker. ARGV[1]: the claim; ARGV[2]: the ready value,
-- or '' to give the claim back; or, with ARGV[3], keep the claim that many
-- more milliseconds (a rebuild that runs longer than its lease renews it).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'lost'}
end
if ARGV[3] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {'ok'}
