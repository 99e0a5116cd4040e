--[[
  Writes dead letters and acks their entries in one step, and only for entries still pending: an
  entry whose dead letter was written by a consumer that died before acking is redelivered, and
  must not be dead-lettered twice. A refused XADD leaves its entry pending, unacked.

  KEYS[1]  the stream partition
  KEYS[2]  its dead-letter stream
  ARGV[1]  the consumer group
  ARGV[2]  approximate cap on the dead-letter stream's length
  ARGV[3..] per entry: its id, the number of values that follow, then field, value, ...

  Returns per entry 1 when dead-lettered and acked, 0 when no longer pending, or the XADD's error.
]]
local stream, deadLetter = KEYS[1], KEYS[2]
local group, maxLen = ARGV[1], ARGV[2]
local results = {}
local i = 3
while i <= #ARGV do
  local id, fieldCount = ARGV[i], tonumber(ARGV[i + 1])
  local fields = {}
  for j = i + 2, i + 1 + fieldCount do fields[#fields + 1] = ARGV[j] end
  i = i + 2 + fieldCount
  if #redis.call('XPENDING', stream, group, id, id, 1) == 0 then
    results[#results + 1] = 0
  else
    local written = redis.pcall('XADD', deadLetter, 'MAXLEN', '~', maxLen, '*', unpack(fields))
    if type(written) == 'table' and written.err then
      results[#results + 1] = written.err
    else
      redis.call('XACK', stream, group, id)
      results[#results + 1] = 1
    end
  end
end
return results
