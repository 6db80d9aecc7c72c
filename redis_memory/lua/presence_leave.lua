
local member, agent = ARGV[6], agent_stem .. ARGV[6]
if redis.call('ZREM', alive, member) == 0 then return 0 end
local caps = redis.call('HGET', agent, 'can')
if caps then
  for cap in string.gmatch(caps, '%S+') do redis.call('SREM', can_stem .. cap, member) end
end
redis.call('DEL', agent)
if channel ~= '' then redis.call('PUBLISH', channel, ARGV[7]) end
return 1
