
local function unindex(meta, stem)
  local last = tonumber(redis.call('HGET', meta, 'seq') or '0')
  for i = 1, last do redis.call('UNLINK', stem .. ':m:' .. i) end
  redis.call('UNLINK', meta)
end
local function index_messages(meta, stem, ttl, session, sidd, user, values, first, vectors)
  local count = #values - first + 1
  if count <= 0 then return end
  local position = redis.call('HINCRBY', meta, 'seq', count) - count
  if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
  for i = first, #values do
    position = position + 1
    local text, role, ts = '', '', 0
    local ok, message = pcall(cjson.decode, values[i])
    if ok and type(message) == 'table' then
      if type(message.role) == 'string' then role = message.role end
      if type(message.ts) == 'number' then ts = message.ts end
      if type(message.content) == 'string' then
        text = message.content
      elseif type(message.content) == 'table' then
        local parts = {}
        for _, block in ipairs(message.content) do
          if type(block) == 'table' and type(block.text) == 'string' then
            parts[#parts + 1] = block.text
          end
        end
        text = table.concat(parts, ' ')
      end
    end
    local key = stem .. ':m:' .. position
    redis.call('HSET', key, 'session', session, 'sidd', sidd, 'user', user, 'role', role,
      'text', text, 'pos', position, 'ts', ts)
    if vectors and #vectors[i - first + 1] > 0 then
      redis.call('HSET', key, 'vec', vectors[i - first + 1])
    end
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
