
local keep = tonumber(ARGV[2])
local groups, order = {}, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local ns = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
  if not groups[ns] then groups[ns] = {}; order[#order + 1] = ns end
  table.insert(groups[ns], member)
end
local dropped = 0
for _, ns in ipairs(order) do
  local all = groups[ns]
  if #all > keep then
    local victims = {}
    for i = 1, #all - keep do victims[i] = all[i] end
    drop(ns, victims)
    dropped = dropped + #victims
  end
end
expire(tonumber(ARGV[1]))
return dropped
