#!lua
--[[
  GCRA (generic cell rate algorithm) over one or more buckets, all or nothing: a request is admitted
  only when every bucket can take its cost now, and only then are all of them charged. A bucket holds
  one number, its theoretical arrival time (TAT) in microseconds of the server clock, and expires
  once it is back to idle, so an unused bucket costs nothing.

  KEYS[1..n]  buckets
  ARGV[1]     emission interval in microseconds: 1e6 / events per second
  ARGV[2]     burst: events an idle bucket admits at once
  ARGV[2+i]   cost (events) charged to KEYS[i]

  Returns 0 when admitted, else the milliseconds until the same request would be. Declared with a
  shebang, so a Redis that refuses writes (OOM, MISCONF, READONLY) refuses it before it runs.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])

local waitUs = 0
local arrivals = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local arrival = tat + interval * tonumber(ARGV[2 + i])
  local wait = arrival - tolerance - now
  if wait > waitUs then waitUs = wait end
  arrivals[i] = arrival
end
if waitUs > 0 then return math.ceil(waitUs / 1000) end

for i, key in ipairs(KEYS) do
  -- %.0f: tostring would print 16-digit microsecond times in exponent notation and lose precision.
  redis.call('SET', key, string.format('%.0f', arrivals[i]), 'PX', math.ceil((arrivals[i] - now) / 1000))
end
return 0
