
local function meta(id, needed)
  local m = redis.call('HGET', metas, id)
  if not m then
    if needed then
      error({err = 'RMEM_DATA ' .. metas .. ' lacks the entry of queued task '
             .. id:gsub('%%(%x%x)', hex)})
    end
    return nil
  end
  local p, a, tok, w, e = string.match(m, '^(%-?%d+) (%d+) (%S+) (%S+) (%S+)$')
  if not p then
    error({err = 'RMEM_DATA ' .. metas .. ' holds an unreadable entry for task '
           .. id:gsub('%%(%x%x)', hex)})
  end
  return tonumber(p), tonumber(a), tok, w, tonumber(e)
end
