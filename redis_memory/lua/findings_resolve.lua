-- Settles a subject's open conflict (Findings.resolve); runs after
-- findings_subject_record.lua (read_record, keep, and KEYS/ARGV[1..4]).
-- ARGV[5] who decided, ARGV[6] the verdict, ARGV[7] the time, ARGV[8] the reason,
-- ARGV[9] the channel ('' = no events), ARGV[10] the resolved event.
-- Returns 1, or 0 (nothing written) when the subject has no open conflict.
local record = read_record()
if not record or not record.c then return 0 end
local previous = nil
if type(record.r) == 'table' then previous = record.r.d end
record.r = {v = record.v, c = record.c, p = previous,
  d = {v = ARGV[6], by = ARGV[5], why = ARGV[8], ts = ARGV[7]}}
record.v = {}
record.c = nil
keep(record, ARGV[1])
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10]) end
return 1
