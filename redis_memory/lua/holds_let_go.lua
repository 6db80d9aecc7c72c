
local holds, member = KEYS[1], ARGV[1]
--[[unindex]]
return 1
