
local LIST = 'rmem:list\0'
-- The thread's generation (a field of KEYS[2]): it changes whenever list
-- elements are deleted, and is gone with the thread, so a writer that saw it
-- may trust the elements and message ids it wrote in that generation.
local GEN = '\0generation'
local state = {dropped = false}
local function new_generation()
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], GEN, now[1] .. '.' .. now[2])
end
local function upper(prefix) return string.sub(prefix, 1, -2) .. '\1' end
local function members(key, prefix)
  return redis.call('ZRANGEBYLEX', key, '[' .. prefix, '(' .. upper(prefix))
end
local function decode_head(member)
  local raw = redis.call('HGET', KEYS[2], member)
  if not raw then return nil end
  local ok, head = pcall(cjson.decode, raw)
  if ok and type(head) == 'table' then return head end
  return false
end
local function expire(ttl)
  if ttl > 0 then for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], ttl) end end
end
local function elements(ns, value)
  local fields = {}
  if value and string.sub(value, 1, #LIST) == LIST then
    for i = #LIST + 1, #value, 16 do
      fields[#fields + 1] = ns .. '\0' .. string.sub(value, i, i + 15)
    end
  end
  return fields
end
local function array_header(n)
  if n < 16 then return string.char(0x90 + n) end
  if n < 65536 then return string.char(0xdc, math.floor(n / 256), n % 256) end
  return string.char(0xdd, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end
-- A stored value as the serializer wrote it: a list is put back together.
local function assemble(ns, value)
  if not value or string.sub(value, 1, #LIST) ~= LIST then return value end
  local fields = elements(ns, value)
  local parts = {'msgpack\0', array_header(#fields)}
  for i = 1, #fields, 1000 do
    local bodies = redis.call('HMGET', KEYS[8], unpack(fields, i, math.min(i + 999, #fields)))
    for j, body in ipairs(bodies) do
      if not body then
        error({err = 'RMEM_DATA ' .. KEYS[8] .. ' lacks an element of a stored list ('
          .. #fields .. ' elements); the thread is damaged: delete it'})
      end
      parts[#parts + 1] = body
    end
  end
  return table.concat(parts)
end
-- Drops checkpoints of one namespace with their writes, and the values (and list
-- elements) no checkpoint left in the namespace refers to (none, if a head
-- cannot be read).
local function drop(ns, victims)
  local doomed = {}
  for _, member in ipairs(victims) do
    local head = decode_head(member)
    if head then
      for _, blob in ipairs(head.b or {}) do
        doomed[ns .. '\0' .. blob[1] .. '\0' .. blob[2]] = true
      end
      if head.r and head.r ~= '' then redis.call('ZREM', KEYS[6], head.r .. '\0' .. member) end
    end
    redis.call('HDEL', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
    redis.call('ZREM', KEYS[3], member)
    redis.call('ZREMRANGEBYLEX', KEYS[5], '[' .. member .. '\0', '(' .. member .. '\1')
  end
  if next(doomed) == nil then return end
  local kept = {}
  for _, member in ipairs(members(KEYS[3], ns .. '\0')) do
    local head = decode_head(member)
    if head == false then return end
    if head then
      for _, blob in ipairs(head.b or {}) do
        local field = ns .. '\0' .. blob[1] .. '\0' .. blob[2]
        doomed[field] = nil
        kept[field] = true
      end
    end
  end
  local unused = {}
  for blob in pairs(doomed) do
    for _, field in ipairs(elements(ns, redis.call('HGET', KEYS[4], blob))) do
      unused[field] = true
    end
    redis.call('HDEL', KEYS[4], blob)
  end
  if next(unused) == nil then return end
  for blob in pairs(kept) do
    for _, field in ipairs(elements(ns, redis.call('HGET', KEYS[4], blob))) do
      unused[field] = nil
    end
  end
  if next(unused) == nil then return end
  for field in pairs(unused) do redis.call('HDEL', KEYS[8], field) end
  new_generation()
  state.dropped = true
end
local function keep_newest(ns, keep)
  local all = members(KEYS[3], ns .. '\0')
  if #all <= keep then return end
  local victims = {}
  for i = 1, #all - keep do victims[i] = all[i] end
  drop(ns, victims)
end
local function entry(member)
  local record = redis.call('HGET', KEYS[1], member)
  if not record then return false end
  local raw = redis.call('HGET', KEYS[2], member)
  local ok, head = pcall(cjson.decode, raw or '')
  if not ok or type(head) ~= 'table' then
    error({err = 'RMEM_DATA ' .. KEYS[2] .. ' holds an unreadable head for checkpoint '
      .. string.gsub(member, '%z', '/')})
  end
  local ns = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
  local values = {}
  for i, blob in ipairs(head.b or {}) do
    local value = redis.call('HGET', KEYS[4], ns .. '\0' .. blob[1] .. '\0' .. blob[2])
    if value and string.sub(value, 1, #LIST) == LIST then
      -- The newest list of a channel is also kept whole: no assembly for it.
      local whole = redis.call('HGET', KEYS[4], '\1' .. ns .. '\0' .. blob[1])
      local version = blob[2] .. '\0'
      if whole and string.sub(whole, 1, #version) == version then
        value = string.sub(whole, #version + 1)
      else
        value = assemble(ns, value)
      end
    end
    values[i] = value
  end
  return {member, record, raw, values, members(KEYS[5], member .. '\0')}
end
