--[[
  Removes the consumers idle longer than ARGV[2] ms that hold no pending entries, never ARGV[3]
  (the caller). One script, because XGROUP DELCONSUMER drops the pending entries of the consumer it
  removes: an entry delivered between a separate check and the delete would be lost to the group.

  KEYS[1]  the stream
  ARGV[1]  the consumer group

  Returns the names removed.
]]
--@include fields

local stream, group, idleMs, keep = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local removed = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local fields = toFields(info)
  if fields['name'] ~= keep and fields['pending'] == 0 and fields['idle'] > idleMs then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, fields['name'])
    removed[#removed + 1] = fields['name']
  end
end
return removed
