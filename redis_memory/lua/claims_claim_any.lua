-- Claims the first free task of several, in order (Claims.claim_any).
-- KEYS: the n candidate owner keys in order, then the holds index (optional).
-- ARGV[1] the owner, ARGV[2] milliseconds ('' = no expiry), ARGV[3] the channel
-- ('' = no event), ARGV[4] n, ARGV[4 + i] the event of KEYS[i], ARGV[4 + n + i]
-- its index member.
-- Returns the 1-based index of the task claimed, or 0 when all are taken.
local n = tonumber(ARGV[4])
for i = 1, n do
  local ok
  if ARGV[2] == '' then
    ok = redis.call('SET', KEYS[i], ARGV[1], 'NX')
  else
    ok = redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  end
  if ok then
    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4 + i]) end
    if KEYS[n + 1] then
      local holds, member, ms = KEYS[n + 1], ARGV[4 + n + i], ARGV[2]
      --[[index]]
    end
    return i
  end
end
return 0
