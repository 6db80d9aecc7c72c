-- Adds a finding with a verdict (Findings.add_verdict); runs after
-- findings_subject_record.lua (read_record, keep, and KEYS/ARGV[1..4]).
-- ARGV[5] the author, ARGV[6] the verdict, ARGV[7] the time, ARGV[8] the channel ('' =
-- no events), ARGV[9] the finding event, ARGV[10] the conflict event without its
-- verdicts (a JSON object, whose closing brace the script replaces).
-- Returns {how many findings the task has, 1 if this verdict opened a conflict else 0,
-- the subject's record as written}.
local record = read_record() or {v = {}}
record.v[ARGV[5]] = ARGV[6]
local standing = nil
if type(record.r) == 'table' and type(record.r.d) == 'table' then standing = record.r.d.v end
local opened = false
if not record.c then
  local first = standing
  for _, verdict in pairs(record.v) do
    if first == nil then first = verdict elseif verdict ~= first then opened = true end
  end
  if opened then record.c = ARGV[7] end
end
local n, raw = keep(record, ARGV[1])
if ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[8], ARGV[9])
  if opened then
    local parts = {}
    for author, verdict in pairs(record.v) do
      parts[#parts + 1] = cjson.encode(author) .. ':' .. verdict
    end
    local tail = '}'
    if standing then tail = ',"decision":' .. standing .. '}' end
    redis.call('PUBLISH', ARGV[8], string.sub(ARGV[10], 1, -2) .. ',"verdicts":{'
      .. table.concat(parts, ',') .. '}' .. tail)
  end
end
return {n, opened and 1 or 0, raw}
