
redis.call('ZREMRANGEBYSCORE', holds, '-inf', '(' .. now)
local score = 'inf'
if ms ~= '' then score = now + tonumber(ms) end
redis.call('ZADD', holds, score, member)
