
local id, d = ARGV[4], tonumber(ARGV[6])
local p, a, tok, w, e = meta(id)
if not p or tok ~= ARGV[5] or e <= now then return 0 end
redis.call('ZREM', leased, id)
redis.call('HSET', metas, id, fmt('%d %d - - -', p, a))
if d > 0 then
  redis.call('ZADD', delayed, fmt('%.0f', now + d), id)
else
  to_ready(id, p)
end
if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
announce('nacked', id, w)
return 1
