
local key, mode = KEYS[1], ARGV[1]
local raw = redis.call('GET', key)
local members = {}
if raw then
  local ok, decoded = pcall(cjson.decode, raw)
  if not ok then return {0, 'not-json', tostring(decoded)} end
  local i = string.find(raw, '%S')
  if type(decoded) ~= 'table' or string.sub(raw, i, i) ~= '{' then
    return {0, 'not-object', string.sub(raw, i, i + 40)}
  end
  i = string.find(raw, '%S', i + 1)
  if string.sub(raw, i, i) ~= '}' then
    while true do
      local j = i + 1
      while true do
        j = string.find(raw, '["\\]', j)
        if string.sub(raw, j, j) == '\\' then j = j + 2 else break end
      end
      local rawkey = string.sub(raw, i, j)
      local start = string.find(raw, '%S', string.find(raw, ':', j + 1, true) + 1)
      local depth, p = 0, start
      while true do
        p = string.find(raw, '[%[%]{}",]', p)
        local c = string.sub(raw, p, p)
        if c == '"' then
          p = p + 1
          while true do
            p = string.find(raw, '["\\]', p)
            if string.sub(raw, p, p) == '\\' then p = p + 2 else break end
          end
          p = p + 1
        elseif c == '[' or c == '{' then
          depth = depth + 1
          p = p + 1
        elseif depth > 0 then
          if c == ']' or c == '}' then depth = depth - 1 end
          p = p + 1
        else
          break
        end
      end
      local value = string.match(string.sub(raw, start, p - 1), '^(.-)%s*$')
      members[#members + 1] = {cjson.decode(rawkey), rawkey, value}
      if string.sub(raw, p, p) == '}' then break end
      i = string.find(raw, '%S', p + 1)
    end
  end
end

local changed, values, result = {}, {}, nil
for a = 5, #ARGV, 3 do changed[ARGV[a]] = a; values[a] = ARGV[a + 2] end
if mode == 'incr' then
  local by, current, integral = tonumber(ARGV[7]), 0, not string.find(ARGV[7], '[.eE]')
  for _, m in ipairs(members) do
    if m[1] == ARGV[5] then
      current = tonumber(m[3])
      if not current or not string.find(m[3], '^-?%d') then
        return {0, 'not-number', string.sub(m[3], 1, 40)}
      end
      integral = integral and not string.find(m[3], '[.eE]')
    end
  end
  local n = current + by
  if integral then
    if math.abs(n) >= 9007199254740992 then return {0, 'too-large', tostring(n)} end
    result = string.format('%.0f', n)
  else
    if n ~= n or n == math.huge or n == -math.huge then
      return {0, 'not-finite', tostring(n)}
    end
    for digits = 15, 17 do
      result = string.format('%.' .. digits .. 'g', n)
      if tonumber(result) == n then break end
    end
    if not string.find(result, '[.eE]') then result = result .. '.0' end
  end
  values[5] = result
elseif #ARGV < 5 then
  return {1, raw or '{}'}
end

local out, used = {}, {}
for _, m in ipairs(members) do
  local a = changed[m[1]]
  if not a then
    out[#out + 1] = m[2] .. ':' .. m[3]
  elseif not used[a] then
    out[#out + 1] = ARGV[a + 1] .. ':' .. values[a]
    used[a] = true
  end
end
for a = 5, #ARGV, 3 do
  if not used[a] then out[#out + 1] = ARGV[a + 1] .. ':' .. values[a] end
end
local text = '{' .. table.concat(out, ',') .. '}'
if raw then
  redis.call('SET', key, text, 'KEEPTTL')
elseif ARGV[2] ~= '0' then
  redis.call('SET', key, text, 'PX', ARGV[2])
else
  redis.call('SET', key, text)
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return {1, result or text}
