-- Claims a free task (Claims.claim): SET NX, then the event and the holds index.
-- KEYS[1] the task's owner key, KEYS[2] the holds index (optional: on one server
-- only, since on a cluster it lives in another slot).
-- ARGV[1] the owner; ARGV[2] milliseconds ('' = no expiry); ARGV[3] the channel
-- ('' = no event); ARGV[4] the event; ARGV[5] the index member.
-- Returns 1 if this call claimed the task, 0 if it was taken.
local ok
if ARGV[2] == '' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if not ok then return 0 end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
if KEYS[2] then
  local holds, member, ms = KEYS[2], ARGV[5], ARGV[2]
  --[[index]]
end
return 1
