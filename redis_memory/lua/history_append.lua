
local stem, vectors, token, ttl = ARGV[7], {}, ARGV[11], tonumber(ARGV[1])
local first = 13 + tonumber(ARGV[12])
for i = 13, first - 1 do vectors[#vectors + 1] = ARGV[i] end
local seen = ''
if token ~= '' then
  seen = redis.call('GET', KEYS[4]) or ''
  for i = 1, #seen, #token do
    if string.sub(seen, i, i + #token - 1) == token then return {redis.call('LLEN', KEYS[1]), 0} end
  end
end
if ARGV[5] ~= '0' then
  redis.call('DEL', KEYS[4])
  if stem ~= '' then unindex(KEYS[3], stem) end
end
local n, trimmed = append_messages(KEYS[1], KEYS[2], ttl, tonumber(ARGV[2]), ARGV[3],
                                   ARGV[4], ARGV[5], ARGV[6], ARGV, first)
if stem ~= '' then
  index_messages(KEYS[3], stem, ttl, ARGV[8], ARGV[9], ARGV[10], ARGV, first,
    #vectors > 0 and vectors or nil)
end
if token ~= '' then
  seen = token .. string.sub(seen, 1, (REMEMBERED - 1) * #token)
  if ttl > 0 then
    redis.call('SET', KEYS[4], seen, 'PX', ttl)
  else
    redis.call('SET', KEYS[4], seen)
  end
end
return {n, trimmed}
