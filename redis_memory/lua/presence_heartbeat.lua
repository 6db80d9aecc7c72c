
local member, agent = ARGV[6], agent_stem .. ARGV[6]
if redis.call('ZADD', alive, 'XX', 'CH', now + tonumber(ARGV[7]), member) == 0 then
  if redis.call('ZSCORE', alive, member) == false then return 0 end
end
local caps = redis.call('HGET', agent, 'can')
redis.call('HSET', agent, 'seen', now)
redis.call('ZADD', members, now, member)
for _, key in ipairs({agent, alive, members}) do redis.call('PEXPIRE', key, retention) end
if caps then
  for cap in string.gmatch(caps, '%S+') do redis.call('PEXPIRE', can_stem .. cap, retention) end
end
return 1
