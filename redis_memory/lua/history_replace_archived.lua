
if ARGV[1] ~= '' then unindex(KEYS[5], ARGV[1]) end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
local n = 0
for i = 3, #ARGV, 1000 do
  n = redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local ttl = tonumber(ARGV[2])
if n > 0 and ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return n
