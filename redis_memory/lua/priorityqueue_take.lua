
local limit, clock = tonumber(ARGV[4]), fmt('%.0f', now)
local due = redis.call('ZRANGE', delayed, '-inf', clock, 'BYSCORE', 'LIMIT', 0, limit)
if #due > 0 then
  for _, id in ipairs(due) do to_ready(id, (meta(id, true))) end
  redis.call('ZREM', delayed, unpack(due))
end
local out = {'', 0}
local expired = redis.call('ZRANGE', leased, '-inf', clock, 'BYSCORE', 'LIMIT', 0, limit)
if #expired > 0 then
  for _, id in ipairs(expired) do
    local p, a, _, w = meta(id, true)
    redis.call('HSET', metas, id, fmt('%d %d - - -', p, a))
    to_ready(id, p)
    if holds then redis.call('ZREM', holds, stem .. id .. ':' .. w) end
    announce('lease_expired', id, w)
    out[#out + 1] = id
    out[#out + 1] = w
  end
  redis.call('ZREM', leased, unpack(expired))
end
out[2] = #out - 2
if holds then redis.call('ZREMRANGEBYSCORE', holds, '-inf', '(' .. clock) end
local w, token = ARGV[5], ARGV[6]
local expiry = fmt('%.0f', now + tonumber(ARGV[7]))
out[1] = expiry
for _ = 1, tonumber(ARGV[8]) do
  local popped = redis.call('ZPOPMAX', ready)
  if #popped == 0 then break end
  local id = popped[1]
  local p, a = meta(id, true)
  a = a + 1
  redis.call('HSET', metas, id, fmt('%d %d %s %s %s', p, a, token, w, expiry))
  redis.call('ZADD', leased, expiry, id)
  if holds then redis.call('ZADD', holds, expiry, stem .. id .. ':' .. w) end
  announce('taken', id, w)
  local payload = redis.call('HGET', payloads, id)
  if not payload then
    error({err = 'RMEM_DATA ' .. payloads .. ' lacks the payload of task '
           .. id:gsub('%%(%x%x)', hex)})
  end
  out[#out + 1] = id
  out[#out + 1] = payload
  out[#out + 1] = p
  out[#out + 1] = a
end
return out
