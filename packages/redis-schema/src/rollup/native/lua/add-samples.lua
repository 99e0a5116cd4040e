--[[
  Adds samples to any number of series and rolls them up the way RedisTimeSeries compaction rules
  do, except for when a closed bucket is written: RedisTimeSeries writes it as soon as a sample from
  a later bucket arrives; this script waits until the series' samples have passed the bucket's end
  by the series' own delay, up to half a bucket (CONFIG.maxDelays). Buckets are aligned to the
  clock, so a fleet reporting in step would otherwise close every series' bucket in the same
  moment, and that burst of reads and writes held Redis for tens of milliseconds. Until its delay
  has passed, readers aggregate a closed bucket from the raw samples, as they do the open one. A
  sample at or before the newest timestamp that lands in a written bucket recalculates it.

  The raw samples of the open bucket are its running state: closing a bucket reads them once, so
  each sample is read once more in all, and a series whose samples only append costs one XADD per
  sample, at the tail of its raw stream (raw-stream.lua), however long the series, and one
  XREVRANGE per call unless the caller knows a lower bound of the series' newest timestamp.

  That bound spares the read, which cost about a third of Redis' time per sample of a series
  written one sample a call: when the call's first sample of the series is newer than the bound,
  it is appended at once, and the append succeeding proves it newer than the series' newest (a
  stream refuses IDs at or below its last; NOMKSTREAM refuses a series without one, whose late set
  may hold newer samples). Buckets are then closed as if the bound were the newest timestamp, when
  the sample is at most one bucket past the bound: a bound below the newest then only writes again
  buckets already written, with what they already hold. The bound must never exceed the newest,
  which holds while a series' keys are not deleted: its newest never decreases, since trimming
  keeps it.

  The loader prepends the configuration, which keeps it out of every call's arguments:
    local CONFIG = {
      rawRetentionMs = <ms, 0 keeps every sample>,
      widths = { <each distinct bucket width in ms> },
      maxDelays = { <per width, the longest delay in ms: half the width, no more than the raw
                    retention leaves after the bucket> },
      tiers = { { aggregation = '<avg|min|max|sum|count|first|last>', width = <index into widths>,
                  retentionMs = <ms, 0 keeps every bucket> }, ... },
    }

  Input: one group per series, the series in the same order in KEYS and in ARGV.
    KEYS, 2 + T per series (T = #CONFIG.tiers):
      raw series: stream, and its late set (raw-stream.lua)
      one rollup per tier in CONFIG.tiers order: sorted set, score = bucket start,
      member = "<start>:<value>"
    ARGV, 3 + n per series:
      n, the number of the series' samples
      spread, 0 to 1023, which picks the series' delay: maxDelays[w] * spread / 1024, rounded down
      a lower bound of the series' newest timestamp, or '' when the caller knows none
      n samples, each as "<timestamp>:<value>", both printed by JavaScript's String(number)

  Output:
    the ordinals of the samples refused as older than the raw retention, ascending; an ordinal
    counts the call's samples from 1 in ARGV order, leaving out the counts
]]
--@include raw-stream
local rawRetention = CONFIG.rawRetentionMs
local rawTrimStep = math.max(1, math.floor(rawRetention / 16))
local widths = CONFIG.widths
local maxDelays = CONFIG.maxDelays
local tiers = CONFIG.tiers
local keysPerSeries = 2 + #tiers

-- Lua's tostring keeps 14 digits; 17 round-trip every double exactly.
local function formatNumber(x)
  return string.format('%.17g', x)
end

local function formatTimestamp(ms)
  return string.format('%d', ms)
end

-- Indexes as strings: redis.call turns a Lua number into text with sprintf on every call, which
-- measured about a tenth of this script's time when it ran once per series.
local LAST_ONE = '-1'

-- The series being written: its raw stream and late set, where its keys start in KEYS, its newest
-- timestamp, and per width how long after a bucket's end its samples must pass before the bucket
-- is written.
local rawKey, lateKey, firstKey, newest
local delays = {}

-- The value texts of the raw samples in [first, last], oldest first, a late set's replacing the
-- stream's of the same timestamp.
local function rawValues(first, last)
  if last < 0 then
    -- Stream IDs are unsigned; the bucket before the first of the epoch is asked for, and empty.
    return {}
  end
  local from, to = formatTimestamp(math.max(first, 0)), formatTimestamp(last)
  local entries = redis.call('XRANGE', rawKey, from, to)
  local late = redis.call('ZRANGE', lateKey, from, to, 'BYSCORE')
  local values = {}
  -- Most buckets have no late samples, and then no entry's timestamp needs parsing.
  if #late == 0 then
    for i, entry in ipairs(entries) do
      values[i] = entry[2][2]
    end
    return values
  end
  local e, l = 1, 1
  while e <= #entries or l <= #late do
    local entryMs = entries[e] and entryTime(entries[e][1])
    local lateMs = late[l] and memberTime(late[l])
    if lateMs == nil or (entryMs ~= nil and entryMs < lateMs) then
      values[#values + 1] = entries[e][2][2]
      e = e + 1
    else
      local member = late[l]
      values[#values + 1] = string.sub(member, string.find(member, ':', 1, true) + 1)
      l = l + 1
      if entryMs == lateMs then
        e = e + 1
      end
    end
  end
  return values
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

-- Per tier of the series, the start of the newest bucket an append closed, which is then the
-- rollup's newest; or true when only older buckets were recalculated. Nil until a bucket is written.
local writtenTiers

local function writeBucket(widthIndex, start, closedByAppend)
  local from = formatTimestamp(start)
  local texts = rawValues(start, start + widths[widthIndex] - 1)
  if #texts == 0 then
    return
  end
  local figures, min, max = { count = #texts, sum = 0 }, nil, nil
  for i, text in ipairs(texts) do
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
  writtenTiers = writtenTiers or {}
  for t, tier in ipairs(tiers) do
    if tier.width == widthIndex then
      local key = KEYS[firstKey + 1 + t]
      redis.call('ZREMRANGEBYSCORE', key, from, from)
      redis.call('ZADD', key, from, from .. ':' .. answer(figures, tier.aggregation))
      if closedByAppend then
        writtenTiers[t] = start
      elseif writtenTiers[t] == nil then
        writtenTiers[t] = true
      end
    end
  end
end

-- Writes the buckets whose end plus delay the new sample passes and `from`, the newest, did not. Only
-- the newest's bucket and the one before can be unwritten: the delay is shorter than a bucket.
local function closeBucketsBefore(from, ms)
  for w, width in ipairs(widths) do
    local openStart = from - from % width
    local delay = delays[w]
    if from < openStart + delay and ms >= openStart + delay then
      writeBucket(w, openStart - width, true)
    end
    if ms >= openStart + width + delay then
      writeBucket(w, openStart, true)
    end
  end
end

local function append(at, ms, value)
  if newest then
    closeBucketsBefore(newest, ms)
  end
  appendRaw(rawKey, at, value)
  newest = ms
end

-- Appends the sample when the stream takes it as its newest and, for every width, it falls in the
-- bound's bucket or the next, then closes buckets as if the bound were the newest; answers whether
-- it did. The newest lies between the two, so the buckets it leaves to close are among the bound's
-- and the one before, which is all closeBucketsBefore looks at.
local function appendAboveBound(bound, at, ms, value)
  if ms <= bound then
    return false
  end
  for _, width in ipairs(widths) do
    if ms - ms % width > bound - bound % width + width then
      return false
    end
  end
  if type(redis.pcall('XADD', rawKey, 'NOMKSTREAM', at .. '-1', 'v', value)) ~= 'string' then
    return false
  end
  closeBucketsBefore(bound, ms)
  newest = ms
  return true
end

-- Written buckets that late samples of the series landed in, recalculated once its samples are in.
local closedBuckets

-- Like TS.ADD at or before the newest timestamp: replace the sample.
local function upsert(member, at, ms)
  local replaced = redis.call('ZRANGE', lateKey, at, at, 'BYSCORE')[1]
  local current = replaced
  if not current then
    local entry = redis.call('XRANGE', rawKey, at, at)[1]
    current = entry and at .. ':' .. entry[2][2]
  end
  if current == member then
    -- A redelivered sample changes nothing, so it need not cost a recalculation.
    return
  end
  if replaced then
    redis.call('ZREM', lateKey, replaced)
  end
  redis.call('ZADD', lateKey, at, member)
  for w, width in ipairs(widths) do
    local start = ms - ms % width
    if newest >= start + width + delays[w] then
      closedBuckets = closedBuckets or {}
      closedBuckets[w .. ':' .. start] = { w, start }
    end
  end
end

local refused = {}

-- Writes ARGV[firstArg .. firstArg + count - 1] to the series at KEYS[firstKey]; the first of
-- them is the call's sample number firstOrdinal + 1.
local function addSeries(firstArg, count, firstOrdinal, spread, bound)
  rawKey, lateKey = KEYS[firstKey], KEYS[firstKey + 1]
  for w = 1, #widths do
    delays[w] = math.floor(maxDelays[w] * spread / 1024)
  end
  writtenTiers, closedBuckets = nil, nil
  local previousNewest
  local first = firstArg
  if bound then
    local member = ARGV[first]
    local colon = string.find(member, ':', 1, true)
    local at = string.sub(member, 1, colon - 1)
    if appendAboveBound(bound, at, tonumber(at), string.sub(member, colon + 1)) then
      previousNewest = bound
      first = first + 1
    end
  end
  if first == firstArg then
    newest = newestTime(rawKey, lateKey)
    previousNewest = newest
  end

  for i = first, firstArg + count - 1 do
    local member = ARGV[i]
    local colon = string.find(member, ':', 1, true)
    local at = string.sub(member, 1, colon - 1)
    local ms = tonumber(at)
    if newest and rawRetention > 0 and ms < newest - rawRetention then
      refused[#refused + 1] = firstOrdinal + i - firstArg + 1
    elseif not newest or ms > newest then
      append(at, ms, string.sub(member, colon + 1))
    else
      upsert(member, at, ms)
    end
  end

  if closedBuckets then
    for _, closed in pairs(closedBuckets) do
      writeBucket(closed[1], closed[2], false)
    end
  end

  -- Trimming on every call would cost a command per sample, so raw samples are dropped each time
  -- the newest timestamp crosses a sixteenth of the retention, and reads hide what is left over,
  -- as RedisTimeSeries hides the samples of chunks it has not dropped yet.
  -- Before the retention has passed since the epoch there is nothing to trim, and no stream ID to say so.
  if rawRetention > 0 and newest ~= previousNewest and newest > rawRetention then
    if not previousNewest or newest - newest % rawTrimStep > previousNewest - previousNewest % rawTrimStep then
      local oldestKept = formatTimestamp(newest - rawRetention)
      redis.call('XTRIM', rawKey, 'MINID', oldestKept)
      redis.call('ZREMRANGEBYSCORE', lateKey, '-inf', '(' .. oldestKept)
    end
  end

  if writtenTiers then
    for t, written in pairs(writtenTiers) do
      local retention = tiers[t].retentionMs
      if retention > 0 then
        local key = KEYS[firstKey + 1 + t]
        local newestBucket = written
        if written == true then
          newestBucket = memberTime(redis.call('ZRANGE', key, LAST_ONE, LAST_ONE)[1])
        end
        redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. formatTimestamp(newestBucket - retention))
      end
    end
  end
end

local argCount = #ARGV
local argIndex, ordinal = 1, 0
firstKey = 1
while argIndex <= argCount do
  local count = tonumber(ARGV[argIndex])
  addSeries(argIndex + 3, count, ordinal, tonumber(ARGV[argIndex + 1]), tonumber(ARGV[argIndex + 2]))
  argIndex = argIndex + 3 + count
  ordinal = ordinal + count
  firstKey = firstKey + keysPerSeries
end

return refused
