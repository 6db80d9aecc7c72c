-- The part shared by findings_add_verdict.lua and findings_resolve.lua, which the
-- Python module puts before each of them: read_record() and keep().
--
-- A task's verdicts hash ({prefix}:task:{<id>}:verdicts, the findings' slot) has one
-- field per subject: "s:" followed by the subject itself (hash fields are binary-safe,
-- so no subject reaches another's field, and authors live inside the value). The value
-- is a JSON record written with cjson; every leaf is a string, so cjson never rounds a
-- number: verdicts are their canonical JSON text, times Python's repr.
--   {"v": {author: verdict, ...},     each author's latest verdict since the last decision
--    "c": time,                       while a conflict is open: when it opened
--    "r": {"v": {...}, "c": time,     the last resolved conflict: its verdicts, opening,
--          "d": {"v": verdict, "by": who, "why": reason, "ts": time},  its decision,
--          "p": {...}}}               and the earlier decision it reopened, if any
-- A subject is in conflict when its verdicts and its standing decision ("r"."d"."v")
-- hold two different texts. Both scripts read (and refuse a damaged record) before
-- they write anything, and write the findings list first (the one write that may meet
-- a key of another type), so a refusal leaves nothing half written.
--
-- KEYS[1] the findings, KEYS[2] the verdicts; ARGV[1] the finding's entry, ARGV[2] the
-- findings kept, ARGV[3] the TTL in ms ('' = none), ARGV[4] the subject's field.
local function read_record()
  local raw = redis.call('HGET', KEYS[2], ARGV[4])
  if not raw then return nil end
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= 'table' or type(record.v) ~= 'table' then
    error({err = 'RMEM_DATA ' .. KEYS[2] .. ' holds a record of a subject that '
      .. 'redis-memory-backend did not write; delete the key (the task verdicts)'})
  end
  return record
end
local function keep(record, entry)
  local n = redis.call('RPUSH', KEYS[1], entry)
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
  local raw = cjson.encode(record)
  redis.call('HSET', KEYS[2], ARGV[4], raw)
  if ARGV[3] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
  return n, raw
end
