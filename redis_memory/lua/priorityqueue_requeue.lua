
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
back_in_line(id, p, a, d)
if holder ~= '' then announce('requeued', id, holder) else announce('requeued', id, nil) end
return {1, holder}
