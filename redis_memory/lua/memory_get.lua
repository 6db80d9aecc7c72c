
local values = redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] == '1' and values[1] then refresh(KEYS[1]) end
return values
