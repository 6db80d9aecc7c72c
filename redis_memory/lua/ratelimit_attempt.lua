
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local wanted, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HGETALL', KEYS[1])
local tokens, last
if #state > 0 then
  -- An error reply is one line: control characters of foreign data become '?'.
  local function shown(text)
    return '"' .. (string.gsub(string.sub(text, 1, 40), '%c', '?')) .. '"'
  end
  local fields, problem = {}, nil
  for i = 1, #state, 2 do
    local name = state[i]
    fields[name] = state[i + 1]
    if name ~= 'tokens' and name ~= 'last' and problem == nil then
      problem = 'it has a field ' .. shown(name) .. ', which a bucket never has'
    end
  end
  for _, name in ipairs({'tokens', 'last'}) do
    if problem ~= nil then break end
    local raw = fields[name]
    -- Decimal numbers only, as this script writes them (%.17g): no hex, no
    -- spaces, no nan or inf, and never a negative number of tokens.
    local value = raw and string.find(raw, '^%-?%d+%.?%d*[eE]?[-+]?%d*$') and tonumber(raw)
    if raw == nil then
      problem = 'its field ' .. name .. ' is missing'
    elseif not value or value == math.huge or value == -math.huge
        or (name == 'tokens' and value < 0) then
      problem = 'its field ' .. name .. ' holds ' .. shown(raw) .. ', not '
        .. (name == 'tokens' and 'a number of tokens' or 'a time in microseconds')
    end
  end
  if problem ~= nil then
    error({err = 'RMEM_DATA ' .. KEYS[1] .. ' is not a rate limit bucket that can be read ('
      .. problem .. '), so nothing was admitted. Delete the key (RateLimit.reset() does) '
      .. 'to start again from a full bucket, and check that no other program writes under '
      .. 'this key prefix'})
  end
  tokens, last = tonumber(fields.tokens), tonumber(fields.last)
end
local at = now
if tokens == nil then
  tokens = capacity
elseif now > last then
  tokens = math.min(capacity, tokens + (now - last) * rate / 1000000)
else
  -- The server's clock went back (a failover?): no refill, and keep the later time.
  tokens = math.min(capacity, tokens)
  at = last
end
if wanted > 0 and tokens >= wanted then
  tokens = tokens - wanted
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
             'last', string.format('%.17g', at))
  local full_in = math.ceil((capacity - tokens) * 1000 / rate)
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.min(full_in, longest)))
  return {1, string.format('%.17g', tokens), 0, now}
end
local wait = 0
if wanted > tokens then wait = math.ceil((wanted - tokens) * 1000000 / rate) end
return {0, string.format('%.17g', tokens), wait, now}
