
local nvectors = tonumber(table.remove(ARGV))
local first = tonumber(table.remove(ARGV))
local at = tonumber(table.remove(ARGV))
local stem, vectors = ARGV[7], {}
for i = first - nvectors, first - 1 do vectors[#vectors + 1] = ARGV[i] end
local before = redis.call('LLEN', KEYS[1])
if at < 0 then at = math.max(0, before + at) end
local values = {ARGV[first]}
if at < before then
  local moved = {}
  if before - at > 1 then moved = redis.call('RPOP', KEYS[1], before - at - 1) end
  values = {redis.call('LINDEX', KEYS[1], -1)}
  redis.call('LSET', KEYS[1], -1, ARGV[first])
  for i = #moved, 1, -1 do values[#values + 1] = moved[i] end
end
local n = append_messages(KEYS[1], KEYS[2], tonumber(ARGV[1]), 0, '', '', '0', ARGV[6],
                          values, 1)
local window = tonumber(ARGV[2])
if window > 0 and n > window then
  redis.call('LTRIM', KEYS[1], -window, -1)
  n = window
end
if stem ~= '' then
  index_messages(KEYS[3], stem, tonumber(ARGV[1]), ARGV[8], ARGV[9], ARGV[10], ARGV, first,
    #vectors > 0 and vectors or nil)
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4] .. n .. '}') end
return n
