
local added = 0
for i = 3, #ARGV do
  added = added + redis.call('SADD', KEYS[1], ARGV[i])
  redis.call('SADD', ARGV[1] .. ARGV[i], ARGV[2])
end
return added
