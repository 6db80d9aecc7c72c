
local moved = redis.call('LPOP', KEYS[1], ARGV[1])
if not moved then return {} end
for i = 1, #moved, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(moved, i, math.min(i + 999, #moved)))
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return moved
