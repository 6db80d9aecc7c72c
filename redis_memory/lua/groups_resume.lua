
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                         'STREAMS', KEYS[1], '0')
local entries = (reply and reply[1] and reply[1][2]) or {}
local kept, counts = {}, {}
for _, entry in ipairs(entries) do
  if entry[2] then
    kept[#kept + 1] = entry
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    counts[#counts + 1] = p[1] and p[1][4] or 1
  else
    redis.call('XACK', KEYS[1], ARGV[1], entry[1])
  end
end
return {kept, counts}
