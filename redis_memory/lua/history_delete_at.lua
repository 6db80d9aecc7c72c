
local value = redis.call('LINDEX', KEYS[1], ARGV[1])
if not value then return false end
redis.call('LSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
return value
