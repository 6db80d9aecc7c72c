
local parts = {}
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  parts[#parts + 1] = #item .. ':' .. item
end
if redis.sha1hex(table.concat(parts)) == ARGV[1] then
  return redis.call('UNLINK', KEYS[1])
end
return -1
