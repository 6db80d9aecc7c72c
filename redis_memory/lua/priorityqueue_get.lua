
local id = ARGV[4]
local p, a, tok, w, e = meta(id)
if not p then return nil end
local state, worker, at = 'ready', '', ''
if tok ~= '-' then
  if e > now then state, worker, at = 'leased', w, fmt('%.0f', e) end
else
  local due = redis.call('ZSCORE', delayed, id)
  if due and tonumber(due) > now then state, at = 'delayed', due end
end
return {state, redis.call('HGET', payloads, id) or '', p, a, worker, at}
