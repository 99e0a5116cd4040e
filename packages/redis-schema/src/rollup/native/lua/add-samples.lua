--[[
  Adds samples to any number of series (series-writes.lua, included before this, does the writing).

  Input: one group per series, the series in the same order in KEYS and in ARGV.
    KEYS, 2 + T per series (T = #CONFIG.tiers): the raw series, one rollup per tier in CONFIG.tiers
      order, then the series' state (see series-writes.lua)
    ARGV, 1 + n per series:
      n, the number of the series' samples
      n samples, each as its raw member, "<timestamp>:<value>", both printed by JavaScript's
      String(number)

  Output:
    the ordinals of the samples refused as older than the raw retention, ascending; an ordinal
    counts the call's samples from 1 in ARGV order, leaving out the counts
]]
local keysPerSeries = 2 + #tiers
local refused = {}
local argIndex, ordinal, firstKey = 1, 0, 1
while argIndex <= #ARGV do
  local count = tonumber(ARGV[argIndex])
  local rollups = {}
  for t = 1, #tiers do
    rollups[t] = KEYS[firstKey + t]
  end
  local members = {}
  for i = 1, count do
    members[i] = ARGV[argIndex + i]
  end
  writeSeries({ raw = KEYS[firstKey], rollups = rollups, state = KEYS[firstKey + 1 + #tiers] }, members, ordinal, refused)
  argIndex = argIndex + 1 + count
  ordinal = ordinal + count
  firstKey = firstKey + keysPerSeries
end
return refused
