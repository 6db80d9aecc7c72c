
local ready, delayed, leased, payloads, metas, seqkey, holds =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local channel, queue, stem = ARGV[1], ARGV[2], ARGV[3]
local fmt = string.format
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local function hex(h) return string.char(tonumber(h, 16)) end
