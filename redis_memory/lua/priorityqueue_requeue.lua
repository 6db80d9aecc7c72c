
local id, d = ARGV[4], tonumber(ARGV[6])
local p, a, tok, w = meta(id)
if not p then return nil end
if ARGV[5] ~= '' then p = tonumber(ARGV[5]) end
local holder = ''
if tok ~= '-' then
  holder = w
  redis.call('ZREM', leased, id)
  if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
else
  redis.call('ZREM', ready, id)
  redis.call('ZREM', delayed, id)
end
redis.call('HSET', metas, id, fmt('%d %d - - -', p, a))
if d > 0 then
  redis.call('ZADD', delayed, fmt('%.0f', now + d), id)
else
  to_ready(id, p)
end
if holder ~= '' then announce('requeued', id, holder) else announce('requeued', id, nil) end
return {1, holder}
