
local ttl, keep, ns, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local generation = redis.call('HGET', KEYS[2], GEN)
if ARGV[8] ~= '' and ARGV[8] ~= generation then return {'stale'} end
if not generation then new_generation() end
local n = tonumber(ARGV[9])
local e = 10 + 2 * n
for i = e + 1, e + 2 * tonumber(ARGV[e]), 2 do
  redis.call('HSET', KEYS[8], ARGV[i], ARGV[i + 1])
end
local m = e + 1 + 2 * tonumber(ARGV[e])
if ARGV[m] == '1' then
  local fresh, values = {}, {}
  for i = m + 6, #ARGV, 2 do
    if redis.call('SADD', KEYS[7], ARGV[i]) == 1 then
      fresh[#fresh + 1] = ARGV[i]
      values[#values + 1] = ARGV[i + 1]
    end
  end
  if #fresh > 0 then
    local channel, head = ARGV[m + 3], ''
    if channel ~= '' then
      local event = cjson.encode({event = 'messages', session_id = ARGV[m + 4],
        added = #fresh, ids = fresh})
      head = string.sub(event, 1, -2) .. ',"count":'
    end
    append_messages(KEYS[9], KEYS[10], tonumber(ARGV[m + 1]), tonumber(ARGV[m + 2]),
      channel, head, '0', ARGV[m + 5], values, 1)
  end
end
redis.call('HSET', KEYS[1], member, ARGV[5])
redis.call('HSET', KEYS[2], member, ARGV[6])
redis.call('ZADD', KEYS[3], 0, member)
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[6], 0, ARGV[7] .. '\0' .. member) end
for i = 10, 9 + 2 * n, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
if keep > 0 then keep_newest(ns, keep) end
expire(ttl)
return {'ok', redis.call('HGET', KEYS[2], GEN), state.dropped and 1 or 0}
