
local function back_in_line(id, p, a, d)
  redis.call('HSET', metas, id, fmt('%d %d - - -', p, a))
  if d > 0 then
    redis.call('ZADD', delayed, fmt('%.0f', now + d), id)
  else
    to_ready(id, p)
  end
end
