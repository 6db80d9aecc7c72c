
unindex(KEYS[1], ARGV[1])
redis.call('UNLINK', KEYS[2])
return redis.call('UNLINK', unpack(KEYS, 3))
