--[[
  Trims the stream below the oldest entry the group has not finished with, keeping a window of
  processed entries for the recent-events view. One script, so the group cannot move between
  reading its position and trimming.

  KEYS[1]  the stream
  ARGV[1]  the consumer group
  ARGV[2]  processed entries kept by count: the newest this many below the group's floor
  ARGV[3]  processed entries kept by age in milliseconds, by the server's clock

  Returns {entries removed, the MINID used or '' when nothing could go}.

  The floor is the lower of the oldest pending id (XPENDING's summary) and the first entry after
  the group's last-delivered-id. An entry is removed only when it is below the floor and outside
  both windows; `MINID ~` removes whole nodes below the threshold, never anything at or above it.
]]
--@include consumer-group

local stream, group = KEYS[1], ARGV[1]
local retainCount, retainMs = tonumber(ARGV[2]), tonumber(ARGV[3])

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function lower(a, b)
  if a == nil then return b end
  if b == nil then return a end
  local ams, aseq = parse(a)
  local bms, bseq = parse(b)
  if ams < bms or (ams == bms and aseq < bseq) then return a end
  return b
end

-- Without the stream or the group nothing has been delivered yet: every entry is still to do.
local info = consumerGroup(stream, group)
if info == nil then return {0, ''} end
local lastDelivered = info['last-delivered-id']

local floor = redis.call('XPENDING', stream, group)[2] or nil
local undelivered = redis.call('XRANGE', stream, '(' .. lastDelivered, '+', 'COUNT', 1)[1]
if undelivered then floor = lower(floor, undelivered[1]) end

local time = redis.call('TIME')
local byAge = string.format('%d-0', math.max(0, tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - retainMs))
local threshold = lower(floor, byAge)
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if first == nil or lower(first[1], threshold) == threshold then return {0, ''} end

if retainCount > 0 then
  local newest = redis.call('XREVRANGE', stream, floor and ('(' .. floor) or '+', '-', 'COUNT', retainCount)
  if #newest < retainCount then return {0, ''} end
  threshold = lower(threshold, newest[#newest][1])
end
return {redis.call('XTRIM', stream, 'MINID', '~', threshold), threshold}
