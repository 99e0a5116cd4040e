--[[
  Adds samples to one series and rolls them up the way RedisTimeSeries compaction rules do: a
  bucket's aggregate is written only once a sample from a later bucket arrives, and a sample at or
  before the newest timestamp that lands in a closed bucket recalculates that bucket.

  The raw samples of the open bucket are its running state: closing a bucket reads them once, so
  each sample is read once more in all, and a call that only appends costs one ZRANGE and one ZADD.

  The loader prepends the configuration, which keeps it out of every call's arguments:
    local CONFIG = {
      rawRetentionMs = <ms, 0 keeps every sample>,
      widths = { <each distinct bucket width in ms> },
      tiers = { { aggregation = '<avg|min|max|sum|count|first|last>', width = <index into widths>,
                  retentionMs = <ms, 0 keeps every bucket> }, ... },
    }

  Input:
    KEYS[1]          raw series: sorted set, score = timestamp, member = "<timestamp>:<value>"
    KEYS[2 .. 1+T]   one rollup per tier: sorted set, score = bucket start, member = "<start>:<value>"
    ARGV[1 ..]       one sample each as its raw member, "<timestamp>:<value>", both printed by
                     JavaScript's String(number)

  Output:
    one integer per sample: 1 written, 0 refused as older than the raw retention
]]
local rawKey = KEYS[1]
local rawRetention = CONFIG.rawRetentionMs
local widths = CONFIG.widths
local tiers = CONFIG.tiers

-- Lua's tostring keeps 14 digits; 17 round-trip every double exactly.
local function formatNumber(x)
  return string.format('%.17g', x)
end

local function formatTimestamp(ms)
  return string.format('%d', ms)
end

local newestMember = redis.call('ZRANGE', rawKey, -1, -1)[1]
local newest = newestMember and tonumber(string.match(newestMember, '^[^:]+'))

-- Appends wait here so that a batch costs one ZADD; anything reading raw flushes them first.
local pendingRaw = {}
local function flushRaw()
  if #pendingRaw > 0 then
    redis.call('ZADD', rawKey, unpack(pendingRaw))
    pendingRaw = {}
  end
end

-- The figures of a bucket as RedisTimeSeries aggregates it: the sum starts at 0, avg is sum / count,
-- first and last go by timestamp; min, max, first and last keep the text they arrived as.
local function answer(figures, aggregation)
  if aggregation == 'avg' then
    return formatNumber(figures.sum / figures.count)
  elseif aggregation == 'sum' then
    return formatNumber(figures.sum)
  elseif aggregation == 'count' then
    return tostring(figures.count)
  end
  return figures[aggregation]
end

local writtenTiers = {}

local function writeBucket(widthIndex, start)
  flushRaw()
  local from = formatTimestamp(start)
  local members = redis.call('ZRANGE', rawKey, from, formatTimestamp(start + widths[widthIndex] - 1), 'BYSCORE')
  local figures, min, max = { count = #members, sum = 0 }, nil, nil
  for i, member in ipairs(members) do
    local text = string.sub(member, string.find(member, ':', 1, true) + 1)
    local value = tonumber(text)
    figures.sum = figures.sum + value
    if i == 1 then
      figures.first = text
    end
    figures.last = text
    if not min or value < min then
      min, figures.min = value, text
    end
    if not max or value > max then
      max, figures.max = value, text
    end
  end
  for t, tier in ipairs(tiers) do
    if tier.width == widthIndex then
      local key = KEYS[1 + t]
      redis.call('ZREMRANGEBYSCORE', key, from, from)
      redis.call('ZADD', key, from, from .. ':' .. answer(figures, tier.aggregation))
      writtenTiers[t] = true
    end
  end
end

local closedBuckets = {}

local function append(member, at, ms)
  if newest then
    for w, width in ipairs(widths) do
      local openStart = newest - newest % width
      if ms - ms % width > openStart then
        writeBucket(w, openStart)
      end
    end
  end
  pendingRaw[#pendingRaw + 1] = at
  pendingRaw[#pendingRaw + 1] = member
  newest = ms
end

-- Like TS.ADD at or before the newest timestamp: replace the sample; a closed bucket it lands in
-- is recalculated once the batch is in.
local function upsert(member, at, ms)
  flushRaw()
  local existing = redis.call('ZRANGE', rawKey, at, at, 'BYSCORE')[1]
  if existing == member then
    -- A redelivered sample changes nothing, so it need not cost a recalculation.
    return
  end
  if existing then
    redis.call('ZREM', rawKey, existing)
  end
  pendingRaw[#pendingRaw + 1] = at
  pendingRaw[#pendingRaw + 1] = member
  for w, width in ipairs(widths) do
    local start = ms - ms % width
    if start < newest - newest % width then
      closedBuckets[w .. ':' .. start] = { w, start }
    end
  end
end

local results = {}
local previousNewest = newest
for i, member in ipairs(ARGV) do
  local colon = string.find(member, ':', 1, true)
  local at = string.sub(member, 1, colon - 1)
  local ms = tonumber(at)
  if newest and rawRetention > 0 and ms < newest - rawRetention then
    results[i] = 0
  else
    if not newest or ms > newest then
      append(member, at, ms)
    else
      upsert(member, at, ms)
    end
    results[i] = 1
  end
end

flushRaw()
for _, closed in pairs(closedBuckets) do
  writeBucket(closed[1], closed[2])
end

-- Trimming on every call would cost a command per sample, so raw samples are dropped each time
-- the newest timestamp crosses a sixteenth of the retention, and reads hide what is left over,
-- as RedisTimeSeries hides the samples of chunks it has not dropped yet.
if rawRetention > 0 and newest ~= previousNewest then
  local step = math.max(1, math.floor(rawRetention / 16))
  if not previousNewest or math.floor(newest / step) > math.floor(previousNewest / step) then
    redis.call('ZREMRANGEBYSCORE', rawKey, '-inf', '(' .. formatTimestamp(newest - rawRetention))
  end
end

for t in pairs(writtenTiers) do
  local retention = tiers[t].retentionMs
  if retention > 0 then
    local key = KEYS[1 + t]
    local newestBucket = tonumber(string.match(redis.call('ZRANGE', key, -1, -1)[1], '^[^:]+'))
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. formatTimestamp(newestBucket - retention))
  end
end

return results
