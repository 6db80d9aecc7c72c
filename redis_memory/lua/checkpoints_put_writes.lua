
for i = 2, #ARGV, 3 do
  local prefix, member = ARGV[i], ARGV[i + 1]
  if ARGV[i + 2] == '1' then
    redis.call('ZREMRANGEBYLEX', KEYS[5], '[' .. prefix, '(' .. upper(prefix))
    redis.call('ZADD', KEYS[5], 0, member)
  elseif #redis.call('ZRANGEBYLEX', KEYS[5], '[' .. prefix, '(' .. upper(prefix), 'LIMIT', 0, 1)
      == 0 then
    redis.call('ZADD', KEYS[5], 0, member)
  end
end
expire(tonumber(ARGV[1]))
return #ARGV
