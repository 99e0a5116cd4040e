--[[
  Shared by the scripts that write samples (add-samples, drain-batch): writes the samples of one
  series and rolls them up the way RedisTimeSeries compaction rules do. A bucket's aggregate is
  written only once a sample from a later bucket arrives, and a sample at or before the newest
  timestamp that lands in a closed bucket recalculates that bucket.

  Each series keeps its open buckets' figures (count, sum, min, max, first, last) in a state string,
  updated sample by sample, so closing a bucket costs one write per tier whatever the bucket holds.
  Closing from the raw samples instead costs a read of every sample in the bucket, and buckets are
  aligned to the clock, so a fleet closes the buckets of all its series in the same second.
  Where the figures cannot be kept exactly (a sample replaced inside the open bucket, or a series
  written before the state existed) the bucket is marked unknown and closed from its raw samples.

  The loader prepends the configuration:
    local CONFIG = {
      rawRetentionMs = <ms, 0 keeps every sample>,
      widths = { <each distinct bucket width in ms> },
      tiers = { { aggregation = '<avg|min|max|sum|count|first|last>', width = <index into widths>,
                  retentionMs = <ms, 0 keeps every bucket> }, ... },
    }

  A series is { raw = <key>, rollups = { <key per tier, CONFIG.tiers order> }, state = <key> }:
    raw:     sorted set, score = timestamp, member = "<timestamp>:<value>"
    rollups: sorted sets, score = bucket start, member = "<start>:<value>"
    state:   string "<newest>;<open bucket of width 1>;...", each open bucket either
             "<start>,<count>,<sum>,<min>,<max>,<first>,<last>" or "?" (unknown)
  writeSeries(series, members, firstOrdinal, refused) writes members ("<timestamp>:<value>", both
  as JavaScript's String(number) prints them) and appends to `refused` the ordinals (firstOrdinal + 1
  onwards, in member order) of those older than the raw retention. It answers true when the series
  had no sample before.
]]
local rawRetention = CONFIG.rawRetentionMs
local rawTrimStep = math.max(1, math.floor(rawRetention / 16))
local widths = CONFIG.widths
local tiers = CONFIG.tiers

-- Lua's unpack stops at 8000 values; a ZADD takes this many, and more samples flush in several.
local PENDING_LIMIT = 4000

-- Lua's tostring keeps 14 digits; 17 round-trip every double exactly.
local function formatNumber(x)
  return string.format('%.17g', x)
end

local function formatTimestamp(ms)
  return string.format('%d', ms)
end

-- The number before the first colon of a member: its timestamp or bucket start.
local function memberTime(member)
  return tonumber(string.sub(member, 1, string.find(member, ':', 1, true) - 1))
end

-- The series being written and its newest timestamp.
local series, newest

-- Appends wait here so that a series costs one ZADD; anything reading raw flushes them first.
local pendingRaw, pendingCount = {}, 0

local function flushRaw()
  if pendingCount > 0 then
    redis.call('ZADD', series.raw, unpack(pendingRaw, 1, pendingCount))
    pendingCount = 0
  end
end

local function queueRaw(at, member)
  pendingRaw[pendingCount + 1] = at
  pendingRaw[pendingCount + 2] = member
  pendingCount = pendingCount + 2
  if pendingCount >= PENDING_LIMIT then
    flushRaw()
  end
end

-- The figures of a bucket as RedisTimeSeries aggregates it: the sum starts at 0, avg is sum / count,
-- first and last go by timestamp; min, max, first and last keep the text they arrived as.
local function startFigures(start, text, value)
  return { start = start, count = 1, sum = value, min = text, minValue = value, max = text, maxValue = value,
    first = text, last = text }
end

-- Only for a sample later than every other of the bucket, which keeps sum, first and last in
-- timestamp order, as a read of the raw samples would give them.
local function addToFigures(figures, text, value)
  figures.count = figures.count + 1
  figures.sum = figures.sum + value
  if value < figures.minValue then
    figures.min, figures.minValue = text, value
  end
  if value > figures.maxValue then
    figures.max, figures.maxValue = text, value
  end
  figures.last = text
end

local function figuresFromRaw(widthIndex, start)
  flushRaw()
  local members = redis.call('ZRANGE', series.raw, formatTimestamp(start),
    formatTimestamp(start + widths[widthIndex] - 1), 'BYSCORE')
  local figures
  for _, member in ipairs(members) do
    local text = string.sub(member, string.find(member, ':', 1, true) + 1)
    local value = tonumber(text)
    if figures then
      addToFigures(figures, text, value)
    else
      figures = startFigures(start, text, value)
    end
  end
  return figures
end

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

-- The open bucket of each width: its figures, or false when they must be read from raw at closing.
local open

local function formatOpen(figures)
  if not figures then
    return '?'
  end
  return table.concat({ formatTimestamp(figures.start), tostring(figures.count), formatNumber(figures.sum),
    figures.min, figures.max, figures.first, figures.last }, ',')
end

local function parseOpen(text)
  if text == '?' then
    return false
  end
  local parts = {}
  for part in string.gmatch(text, '[^,]+') do
    parts[#parts + 1] = part
  end
  return { start = tonumber(parts[1]), count = tonumber(parts[2]), sum = tonumber(parts[3]), min = parts[4],
    minValue = tonumber(parts[4]), max = parts[5], maxValue = tonumber(parts[5]), first = parts[6], last = parts[7] }
end

-- Reads the series' newest timestamp and open buckets; a series without a state (written before
-- it existed, or new) takes its newest from raw and has every open bucket unknown.
local function loadState()
  open = {}
  local state = redis.call('GET', series.state)
  if state then
    local parts = {}
    for part in string.gmatch(state, '[^;]+') do
      parts[#parts + 1] = part
    end
    newest = tonumber(parts[1])
    for w = 1, #widths do
      open[w] = parts[w + 1] and parseOpen(parts[w + 1]) or false
    end
    return
  end
  local newestMember = redis.call('ZRANGE', series.raw, -1, -1)[1]
  newest = newestMember and memberTime(newestMember)
  for w = 1, #widths do
    open[w] = false
  end
end

local function saveState()
  local parts = { formatTimestamp(newest) }
  for w = 1, #widths do
    parts[w + 1] = formatOpen(open[w])
  end
  redis.call('SET', series.state, table.concat(parts, ';'))
end

-- Per tier of the series, the start of the newest bucket an append closed, which is then the
-- rollup's newest; or true when only older buckets were recalculated. Nil until a bucket is written.
local writtenTiers

local function writeBucket(widthIndex, start, figures, closedByAppend)
  local from = formatTimestamp(start)
  writtenTiers = writtenTiers or {}
  for t, tier in ipairs(tiers) do
    if tier.width == widthIndex then
      local key = series.rollups[t]
      redis.call('ZREMRANGEBYSCORE', key, from, from)
      if figures then
        redis.call('ZADD', key, from, from .. ':' .. answer(figures, tier.aggregation))
      end
      if closedByAppend then
        writtenTiers[t] = start
      elseif writtenTiers[t] == nil then
        writtenTiers[t] = true
      end
    end
  end
end

local function append(member, at, ms, text, value)
  for w, width in ipairs(widths) do
    local start = ms - ms % width
    local figures = open[w]
    if not newest then
      open[w] = startFigures(start, text, value)
    elseif start > newest - newest % width then
      local openStart = newest - newest % width
      if not figures or figures.start ~= openStart then
        figures = figuresFromRaw(w, openStart)
      end
      writeBucket(w, openStart, figures, true)
      open[w] = startFigures(start, text, value)
    elseif figures then
      addToFigures(figures, text, value)
    end
  end
  queueRaw(at, member)
  newest = ms
end

-- Closed buckets that late samples of the series landed in, recalculated once its samples are in.
local closedBuckets

-- Like TS.ADD at or before the newest timestamp: replace the sample.
local function upsert(member, at, ms)
  flushRaw()
  local existing = redis.call('ZRANGE', series.raw, at, at, 'BYSCORE')[1]
  if existing == member then
    -- A redelivered sample changes nothing, so it need not cost a recalculation.
    return
  end
  if existing then
    redis.call('ZREM', series.raw, existing)
  end
  queueRaw(at, member)
  for w, width in ipairs(widths) do
    local start = ms - ms % width
    if start < newest - newest % width then
      closedBuckets = closedBuckets or {}
      closedBuckets[w .. ':' .. start] = { w, start }
    else
      open[w] = false
    end
  end
end

local function writeSeries(target, members, firstOrdinal, refused)
  series = target
  loadState()
  local isNew = newest == nil
  local previousNewest = newest
  writtenTiers, closedBuckets = nil, nil
  local changed = false

  for i, member in ipairs(members) do
    local colon = string.find(member, ':', 1, true)
    local at = string.sub(member, 1, colon - 1)
    local ms = tonumber(at)
    if newest and rawRetention > 0 and ms < newest - rawRetention then
      refused[#refused + 1] = firstOrdinal + i
    elseif not newest or ms > newest then
      local text = string.sub(member, colon + 1)
      append(member, at, ms, text, tonumber(text))
      changed = true
    else
      upsert(member, at, ms)
      changed = true
    end
  end

  flushRaw()
  if closedBuckets then
    for _, closed in pairs(closedBuckets) do
      writeBucket(closed[1], closed[2], figuresFromRaw(closed[1], closed[2]), false)
    end
  end
  if changed then
    saveState()
  end

  -- Trimming on every call would cost a command per sample, so raw samples are dropped each time
  -- the newest timestamp crosses a sixteenth of the retention, and reads hide what is left over,
  -- as RedisTimeSeries hides the samples of chunks it has not dropped yet.
  if rawRetention > 0 and newest ~= previousNewest then
    if not previousNewest or newest - newest % rawTrimStep > previousNewest - previousNewest % rawTrimStep then
      redis.call('ZREMRANGEBYSCORE', series.raw, '-inf', '(' .. formatTimestamp(newest - rawRetention))
    end
  end

  if writtenTiers then
    for t, written in pairs(writtenTiers) do
      local retention = tiers[t].retentionMs
      if retention > 0 then
        local key = series.rollups[t]
        local newestBucket = written
        if written == true then
          local newestMember = redis.call('ZRANGE', key, -1, -1)[1]
          newestBucket = newestMember and memberTime(newestMember)
        end
        if newestBucket then
          redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. formatTimestamp(newestBucket - retention))
        end
      end
    end
  end
  return isNew
end
