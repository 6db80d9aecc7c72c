
local clock = fmt('%.0f', now)
local due = redis.call('ZCOUNT', delayed, '-inf', clock)
local lost = redis.call('ZCOUNT', leased, '-inf', clock)
return {redis.call('ZCARD', ready) + due + lost,
        redis.call('ZCARD', delayed) - due,
        redis.call('ZCARD', leased) - lost}
