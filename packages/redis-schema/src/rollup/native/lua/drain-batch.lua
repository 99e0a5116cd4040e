--[[
  Reads new entries of a stream partition for a consumer of its group, writes the samples of those
  that are certainly valid (series-writes.lua, included before this), records new series in the
  series indexes and acknowledges them, all in one step: the entries never sit in the pending list,
  and no sample crosses the network twice.

  Only entries in the exact shape the ingest-api writes are taken here: the fields source, metric,
  value, occurredAt and optionally eventId, in that order; names of 1 to 128 letters, digits, "_", "."
  or "-"; a plain decimal value of at most 15 significant digits without a redundant zero (so that
  JavaScript's String(Number(value)) is the same text); occurredAt as toISOString() prints it, from
  1970 on. Every such entry is valid by the event rule the services share. Anything else, and any
  sample older than the raw retention, is left pending and handed back, for the caller to decide
  with that rule (store it, or dead-letter it with the reason).

  The loader prepends, besides CONFIG's rollup settings (see series-writes.lua):
    CONFIG.seriesKey = { prefix = '<before metric:source>', raw = '<after>', openBuckets = '<after>',
                         rollups = { '<after>' per tier, CONFIG.tiers order } }
  which keys.ts builds, so that these keys are spelled there like every other.

  KEYS[1]  the stream partition
  KEYS[2]  the series index (members "metric:source")
  KEYS[3]  the series index by source (members "source:metric")
  ARGV[1]  the consumer group, ARGV[2] the consumer, ARGV[3] how many entries to read at most

  Output: { entries read, entries acknowledged, { { id, { field, value, ... } }, ... } handed back,
            the id of the last entry read, or of the stream's newest entry when none was new }
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local seriesKey = CONFIG.seriesKey

local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[3], 'STREAMS', stream, '>')
if not reply then
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  return { 0, 0, {}, newest and newest[1] or '0-0' }
end
local entries = reply[1][2]

local find, match, byte, sub = string.find, string.match, string.byte, string.sub

-- %w is ASCII letters and digits: Redis leaves the C library's character classes in the C locale.
local function isName(text)
  local length = #text
  return length >= 1 and length <= 128 and not find(text, '[^%w_%.%-]')
end

local function isCanonicalDecimal(text)
  if #text > 17 then
    return false
  end
  local sign, whole, fraction = match(text, '^(%-?)(%d+)%.?(%d*)$')
  if not whole or (#whole > 1 and byte(whole, 1) == 48) then
    return false
  end
  if fraction ~= '' then
    if byte(fraction, -1) == 48 then
      return false
    end
  elseif find(text, '.', 1, true) then
    return false
  end
  if whole == '0' then
    if fraction == '' then
      return sign == ''
    end
    local zeros = #match(fraction, '^0*')
    return zeros <= 5 and #fraction - zeros <= 15
  end
  return #whole + #fraction <= 15
end

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function daysFromCivil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local shifted = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * shifted + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

-- Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ" (toISOString's form), or nil.
local function canonicalTimestamp(text)
  if #text ~= 24 or not find(text, '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$') then
    return nil
  end
  local y1, y2, y3, y4, _, mo1, mo2, _, d1, d2 = byte(text, 1, 10)
  local h1, h2, _, mi1, mi2, _, s1, s2, _, ms1, ms2, ms3 = byte(text, 12, 23)
  local y = (y1 - 48) * 1000 + (y2 - 48) * 100 + (y3 - 48) * 10 + y4 - 48
  local mo, d = (mo1 - 48) * 10 + mo2 - 48, (d1 - 48) * 10 + d2 - 48
  local h, mi, s = (h1 - 48) * 10 + h2 - 48, (mi1 - 48) * 10 + mi2 - 48, (s1 - 48) * 10 + s2 - 48
  if y < 1970 or mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 or s > 59 then
    return nil
  end
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  if d > ((mo == 2 and leap) and 29 or DAYS_IN_MONTH[mo]) then
    return nil
  end
  local ms = (ms1 - 48) * 100 + (ms2 - 48) * 10 + ms3 - 48
  return daysFromCivil(y, mo, d) * 86400000 + ((h * 60 + mi) * 60 + s) * 1000 + ms
end

-- The sample member of an entry in the ingest-api's shape (its fields in the order it writes
-- them), with its series' metric and source; nil for any other entry.
local function sampleOf(flat)
  local n = #flat
  if n ~= 8 and n ~= 10 then
    return nil
  end
  if flat[1] ~= 'source' or flat[3] ~= 'metric' or flat[5] ~= 'value' or flat[7] ~= 'occurredAt' then
    return nil
  end
  local source, metric, value = flat[2], flat[4], flat[6]
  if n == 10 and (flat[9] ~= 'eventId' or not isName(flat[10])) then
    return nil
  end
  if not (isName(source) and isName(metric) and isCanonicalDecimal(value)) then
    return nil
  end
  local ms = canonicalTimestamp(flat[8])
  if not ms then
    return nil
  end
  return string.format('%d', ms) .. ':' .. value, metric, source
end

local handedBack = {}
local bySeries, seriesOrder = {}, {}
for _, entry in ipairs(entries) do
  local member, metric, source = sampleOf(entry[2])
  if member then
    local name = metric .. ':' .. source
    local writes = bySeries[name]
    if not writes then
      writes = { metric = metric, source = source, members = {}, entries = {} }
      bySeries[name] = writes
      seriesOrder[#seriesOrder + 1] = writes
    end
    writes.members[#writes.members + 1] = member
    writes.entries[#writes.entries + 1] = entry
  else
    handedBack[#handedBack + 1] = entry
  end
end

local acked = {}
for _, writes in ipairs(seriesOrder) do
  local tag = writes.metric .. ':' .. writes.source
  local rollups = {}
  for t, suffix in ipairs(seriesKey.rollups) do
    rollups[t] = seriesKey.prefix .. tag .. suffix
  end
  local target = { raw = seriesKey.prefix .. tag .. seriesKey.raw, rollups = rollups, state = seriesKey.prefix .. tag .. seriesKey.openBuckets }
  local refused = {}
  if writeSeries(target, writes.members, 0, refused) then
    redis.call('ZADD', KEYS[2], 0, tag)
    redis.call('ZADD', KEYS[3], 0, writes.source .. ':' .. writes.metric)
  end
  local isRefused = {}
  for _, ordinal in ipairs(refused) do
    isRefused[ordinal] = true
    handedBack[#handedBack + 1] = writes.entries[ordinal]
  end
  for i, entry in ipairs(writes.entries) do
    if not isRefused[i] then
      acked[#acked + 1] = entry[1]
    end
  end
end

-- Lua's unpack stops at 8000 values.
for first = 1, #acked, 4000 do
  redis.call('XACK', stream, group, unpack(acked, first, math.min(first + 3999, #acked)))
end
return { #entries, #acked, handedBack, entries[#entries][1] }
