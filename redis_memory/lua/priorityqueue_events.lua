
local function announce(kind, id, worker)
  if channel == '' then return end
  local who = cjson.null
  if worker then who = (worker:gsub('%%(%x%x)', hex)) end
  redis.call('PUBLISH', channel, cjson.encode(
    {event = kind, queue = queue, task_id = (id:gsub('%%(%x%x)', hex)), worker = who}))
end
