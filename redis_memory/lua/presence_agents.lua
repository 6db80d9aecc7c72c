
local members
if ARGV[3] ~= '' then
  local deadline = redis.call('ZSCORE', KEYS[1], ARGV[3])
  members = {}
  if deadline and tonumber(deadline) >= now then members = {ARGV[3], deadline} end
else
  members = redis.call(
    'ZRANGE', KEYS[1], now, '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[2], 'WITHSCORES')
end
local out = {now}
for i = 1, #members, 2 do
  local record = redis.call('HMGET', ARGV[1] .. members[i], 'id', 'can', 'meta', 'joined', 'seen')
  if record[1] then
    table.insert(out, members[i + 1])
    for _, value in ipairs(record) do table.insert(out, value or '') end
  end
end
return out
