
local kept, counts = {}, {}
local cursor, want = '0-0', tonumber(ARGV[4])
-- XAUTOCLAIM scans at most COUNT*10 pending entries per call: follow its cursor
-- (a bounded number of passes) so idle entries behind busy ones are reached too.
for _ = 1, 50 do
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                             'COUNT', want - #kept)
  for _, entry in ipairs(claimed[2]) do
    if entry[2] then
      kept[#kept + 1] = entry
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      counts[#counts + 1] = p[1] and p[1][4] or 1
    end
  end
  cursor = claimed[1]
  if #kept >= want or cursor == '0-0' then break end
end
return {kept, counts}
