
local args = {'SET', KEYS[1], ARGV[1]}
if ARGV[2] ~= '0' then args[4] = 'PX'; args[5] = ARGV[2] end
if ARGV[3] == '1' then args[#args + 1] = 'NX' end
if not redis.call(unpack(args)) then return 0 end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
