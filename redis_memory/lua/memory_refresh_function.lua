
local function refresh(key)
  local ttl = tonumber(redis.call('HGET', key, 'sliding') or '0')
  if ttl and ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
