
local held = redis.call(
  'ZRANGE', KEYS[1], now, '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[1], 'WITHSCORES')
table.insert(held, 1, now)
return held
