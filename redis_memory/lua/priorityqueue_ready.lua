
local function to_ready(id, p)
  local seq = redis.call('INCR', seqkey) % 4294967296
  redis.call('ZADD', ready, fmt('%.0f', p * 4294967296 - seq), id)
end
