
local held = redis.call('ZRANGE', leased, '(' .. fmt('%.0f', now), '+inf', 'BYSCORE',
                        'LIMIT', 0, tonumber(ARGV[4]), 'WITHSCORES')
local out = {}
for i = 1, #held, 2 do
  local id = held[i]
  local _, a, _, w = meta(id, true)
  out[#out + 1] = id
  out[#out + 1] = held[i + 1]
  out[#out + 1] = w
  out[#out + 1] = a
end
return out
