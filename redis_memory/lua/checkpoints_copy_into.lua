
local i = 2
for _, part in ipairs({1, 2, 3, 4, 5, 6, 8}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  if part == 1 or part == 2 or part == 4 or part == 8 then
    for j = i, i + 2 * n - 1, 2 do redis.call('HSETNX', KEYS[part], ARGV[j], ARGV[j + 1]) end
    i = i + 2 * n
  else
    for j = i, i + n - 1 do redis.call('ZADD', KEYS[part], 'NX', 0, ARGV[j]) end
    i = i + n
  end
end
expire(tonumber(ARGV[1]))
return i
