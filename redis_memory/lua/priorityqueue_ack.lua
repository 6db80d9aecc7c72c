
local id = ARGV[4]
local p, _, tok, w, e = meta(id)
if not p or tok ~= ARGV[5] or e <= now then return 0 end
redis.call('ZREM', leased, id)
redis.call('HDEL', metas, id)
redis.call('HDEL', payloads, id)
if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
announce('acked', id, w)
return 1
