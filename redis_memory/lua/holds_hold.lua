
local holds, member, ms = KEYS[1], ARGV[1], ARGV[2]
--[[index]]
return 1
