-- Restarts the lifetime of a claim or a lock, only while it holds the caller's owner
-- string or token.
-- KEYS[1] the key, KEYS[2] the holds index (optional; claims only).
-- ARGV[1] the owner (or the lock's token); ARGV[2] milliseconds ('' = no expiry);
-- ARGV[3] the index member.
-- Returns 1 if extended, 0 if the key holds someone else's (or nothing).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if KEYS[2] then
  local holds, member, ms = KEYS[2], ARGV[3], ARGV[2]
  --[[index]]
end
return 1
