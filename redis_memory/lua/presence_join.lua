
local member, agent = ARGV[6], agent_stem .. ARGV[6]
local new = redis.call('ZSCORE', alive, member) == false
local old = redis.call('HGET', agent, 'can')
if old then
  for cap in string.gmatch(old, '%S+') do redis.call('SREM', can_stem .. cap, member) end
end
if new then redis.call('HSET', agent, 'joined', now) end
redis.call('HSET', agent, 'id', ARGV[7], 'can', ARGV[9], 'meta', ARGV[10], 'seen', now)
redis.call('ZADD', alive, now + tonumber(ARGV[8]), member)
redis.call('ZADD', members, now, member)
for _, key in ipairs({agent, alive, members}) do redis.call('PEXPIRE', key, retention) end
for cap in string.gmatch(ARGV[9], '%S+') do
  redis.call('SADD', can_stem .. cap, member)
  redis.call('PEXPIRE', can_stem .. cap, retention)
end
if new and channel ~= '' then redis.call('PUBLISH', channel, ARGV[11]) end
if new then return 1 end
return 0
