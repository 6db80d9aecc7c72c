
local id, d = ARGV[4], tonumber(ARGV[6])
local p, a, tok, w, e = meta(id)
if not p or tok ~= ARGV[5] or e <= now then return 0 end
redis.call('ZREM', leased, id)
back_in_line(id, p, a, d)
if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
announce('nacked', id, w)
return 1
