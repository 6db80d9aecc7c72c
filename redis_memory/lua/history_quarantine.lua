
local mark, lists, marked, moved, found = ARGV[1], {KEYS[1], KEYS[2]}, {}, {}, {}
for i = 2, #ARGV, 3 do
  local which, value = tonumber(ARGV[i]), ARGV[i + 2]
  local list, at = lists[which], tonumber(ARGV[i + 1])
  if redis.call('LINDEX', list, at) ~= value then at = redis.call('LPOS', list, value) end
  if at then
    redis.call('LSET', list, at, mark)
    marked[which] = true
    moved[#moved + 1] = value
    found[#found + 1] = 1
  else
    found[#found + 1] = 0
  end
end
local ttl, forever = 0, false
for which = 1, 2 do
  if marked[which] then
    local left = redis.call('PTTL', lists[which])
    if left == -1 then forever = true elseif left > ttl then ttl = left end
    redis.call('LREM', lists[which], 0, mark)
  end
end
if #moved > 0 then
  for i = 1, #moved, 1000 do
    redis.call('RPUSH', KEYS[3], unpack(moved, i, math.min(i + 999, #moved)))
  end
  if forever then
    redis.call('PERSIST', KEYS[3])
  elseif ttl > 0 then
    redis.call('PEXPIRE', KEYS[3], ttl)
  end
end
return found
