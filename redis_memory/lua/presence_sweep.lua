
redis.call('ZREMRANGEBYSCORE', members, '-inf', '(' .. (now - retention))
local gone = redis.call('ZRANGE', alive, '-inf', '(' .. now, 'BYSCORE', 'LIMIT', 0, SWEEP_BATCH)
for _, member in ipairs(gone) do
  local record = redis.call('HMGET', agent_stem .. member, 'id', 'can')
  if record[2] then
    for cap in string.gmatch(record[2], '%S+') do
      redis.call('SREM', can_stem .. cap, member)
    end
  end
  redis.call('DEL', agent_stem .. member)
  redis.call('ZREM', alive, member)
  if channel ~= '' then
    redis.call('PUBLISH', channel,
      cjson.encode({event = 'expired', team = team, agent = record[1] or member}))
  end
end
