
local id, p, d = ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('HEXISTS', metas, id) == 1 then return 0 end
redis.call('HSET', payloads, id, ARGV[5])
redis.call('HSET', metas, id, fmt('%d 0 - - -', p))
if d > 0 then
  redis.call('ZADD', delayed, fmt('%.0f', now + d), id)
else
  to_ready(id, p)
end
announce('queued', id, nil)
return 1
