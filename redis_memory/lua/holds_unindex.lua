
redis.call('ZREMRANGEBYSCORE', holds, '-inf', '(' .. now)
redis.call('ZREM', holds, member)
