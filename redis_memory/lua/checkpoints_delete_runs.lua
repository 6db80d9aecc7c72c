
local groups, order, dropped = {}, {}, 0
for i = 2, #ARGV do
  for _, entry in ipairs(members(KEYS[6], ARGV[i] .. '\0')) do
    redis.call('ZREM', KEYS[6], entry)
    local member = string.sub(entry, #ARGV[i] + 2)
    local ns = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
    if not groups[ns] then groups[ns] = {}; order[#order + 1] = ns end
    table.insert(groups[ns], member)
  end
end
for _, ns in ipairs(order) do
  drop(ns, groups[ns])
  dropped = dropped + #groups[ns]
end
if dropped > 0 then expire(tonumber(ARGV[1])) end
return dropped
