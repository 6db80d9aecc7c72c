
local id = ARGV[4]
local p, a, tok, w, e = meta(id)
if not p or tok ~= ARGV[5] or e <= now then return 0 end
local expiry = fmt('%.0f', now + tonumber(ARGV[6]))
redis.call('HSET', metas, id, fmt('%d %d %s %s %s', p, a, tok, w, expiry))
redis.call('ZADD', leased, expiry, id)
if holds then
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', '(' .. fmt('%.0f', now))
  redis.call('ZADD', holds, expiry, stem .. id .. ':' .. w)
end
return 1
