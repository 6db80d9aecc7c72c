
local perms = {}
if #ARGV > 2 then
  for i = 3, #ARGV do perms[#perms + 1] = ARGV[i] end
else
  perms = redis.call('SMEMBERS', KEYS[1])
end
local removed = 0
for _, perm in ipairs(perms) do
  removed = removed + redis.call('SREM', KEYS[1], perm)
  redis.call('SREM', ARGV[1] .. perm, ARGV[2])
end
return removed
