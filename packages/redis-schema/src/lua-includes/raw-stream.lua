-- A series' raw samples are a stream with one entry per timestamp, ID "<timestamp>-1" and the value
-- in field v, so an append is an XADD at the tail: a sorted set's ZADD walks its skiplist for every
-- sample, which cost more Redis time the longer the series, and its members took six times the
-- memory. Samples that do not append (late or repeated timestamps) go to the series' late set, a
-- sorted set of "<timestamp>:<value>" members whose value replaces the stream's at that timestamp.
-- The late set holds nothing newer than the stream's last entry, unless the stream is empty.

local function entryTime(id)
  return tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1))
end

-- The number before the first colon of a member: its timestamp or bucket start.
local function memberTime(member)
  return tonumber(string.sub(member, 1, string.find(member, ':', 1, true) - 1))
end

local function appendRaw(streamKey, at, value)
  redis.call('XADD', streamKey, at .. '-1', 'v', value)
end

-- Releases before this layout kept raw samples in a sorted set under the stream's key, members as
-- in the late set, which such a series has not got: renamed, the set is its late set, and the
-- series appends to a new stream. Any other type fails as the command did.
local function upgradeLegacyRaw(streamKey, lateKey, failure)
  if redis.call('TYPE', streamKey).ok ~= 'zset' then
    error(failure)
  end
  redis.call('RENAME', streamKey, lateKey)
end

-- The newest timestamp of the series, or nil; a legacy sorted set is upgraded first.
local function newestTime(streamKey, lateKey)
  local newest = redis.pcall('XREVRANGE', streamKey, '+', '-', 'COUNT', '1')
  if newest.err then
    upgradeLegacyRaw(streamKey, lateKey, newest)
    newest = {}
  end
  if newest[1] then
    return entryTime(newest[1][1])
  end
  local newestLate = redis.call('ZRANGE', lateKey, '0', '0', 'REV')[1]
  return newestLate and memberTime(newestLate)
end
