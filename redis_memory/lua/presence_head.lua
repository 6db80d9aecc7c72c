
local alive, members = KEYS[1], KEYS[2]
local agent_stem, can_stem, channel, team = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retention = tonumber(ARGV[5])
