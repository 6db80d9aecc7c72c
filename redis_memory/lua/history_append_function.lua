
local function append_messages(messages, archive, ttl, window, channel, head, mode,
                               refresh_archive, values, first)
  if mode ~= '0' then redis.call('DEL', messages) end
  if mode == '2' then redis.call('DEL', archive) end
  local n, trimmed = 0, 0
  for i = first, #values, 1000 do
    n = redis.call('RPUSH', messages, unpack(values, i, math.min(i + 999, #values)))
  end
  if window > 0 and n > window then
    redis.call('LTRIM', messages, -window, -1)
    n, trimmed = window, 1
  end
  if ttl > 0 then
    redis.call('PEXPIRE', messages, ttl)
    if refresh_archive == '1' then redis.call('PEXPIRE', archive, ttl) end
  end
  if channel ~= '' then redis.call('PUBLISH', channel, head .. n .. '}') end
  return n, trimmed
end
