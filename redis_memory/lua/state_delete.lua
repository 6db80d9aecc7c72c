
local deleted = {}
for i = 1, #KEYS do
  if redis.call('UNLINK', KEYS[i]) == 1 then deleted[#deleted + 1] = ARGV[2 + i] end
end
if #deleted > 0 then
  redis.call('PUBLISH', ARGV[1], ARGV[2] .. table.concat(deleted, ',') .. ']}')
end
return #deleted
