
local page = redis.call('ZREVRANGEBYLEX', KEYS[3], ARGV[2], ARGV[3], 'LIMIT', 0,
  tonumber(ARGV[4]))
local out = {}
for _, member in ipairs(page) do
  local found = entry(member)
  if found then out[#out + 1] = found end
end
if #page > 0 then expire(tonumber(ARGV[1])) end
return {page[#page] or '', out}
