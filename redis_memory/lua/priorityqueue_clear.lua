
local out = {redis.call('HLEN', metas)}
for _, id in ipairs(redis.call('ZRANGE', leased, 0, -1)) do
  local tok, w = string.match(redis.call('HGET', metas, id) or '', '^%S+ %S+ (%S+) (%S+)')
  if tok and tok ~= '-' then
    if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
    out[#out + 1] = id
    out[#out + 1] = w
  end
end
redis.call('UNLINK', ready, delayed, leased, payloads, metas, seqkey)
return out
