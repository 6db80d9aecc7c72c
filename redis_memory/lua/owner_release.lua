-- Releases a claim or a lock, only while it holds the caller's owner string or token.
-- KEYS[1] the key, KEYS[2] the holds index (optional; claims only).
-- ARGV[1] the owner (or the lock's token); ARGV[2] the channel ('' = no event);
-- ARGV[3] the event; ARGV[4] the index member.
-- Returns 1 if released, 0 if the key holds someone else's (or nothing).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
if KEYS[2] then
  local holds, member = KEYS[2], ARGV[4]
  --[[unindex]]
end
return 1
