
local command = {'ZINTER', #KEYS}
for i = 1, #KEYS do command[#command + 1] = KEYS[i] end
command[#command + 1] = 'WEIGHTS'
command[#command + 1] = 1
for i = 2, #KEYS do command[#command + 1] = 0 end
command[#command + 1] = 'WITHSCORES'
local scored = redis.call(unpack(command))
local out = {}
for i = 1, #scored, 2 do
  if tonumber(scored[i + 1]) >= now then table.insert(out, scored[i]) end
end
return out
