
local member
if ARGV[3] == '' then
  member = redis.call('ZREVRANGEBYLEX', KEYS[3], '(' .. ARGV[2] .. '\1',
    '[' .. ARGV[2] .. '\0', 'LIMIT', 0, 1)[1]
  if not member then return false end
else
  member = ARGV[2] .. '\0' .. ARGV[3]
end
local found = entry(member)
if found then expire(tonumber(ARGV[1])) end
return found
