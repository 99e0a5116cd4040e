--[[
  Removes consumer ARGV[2] from group ARGV[1] of stream KEYS[1] unless it holds pending entries, in
  one script for the reason remove-idle-consumers gives.

  Returns 1 once the consumer is not in the group, 0 if it stays (it holds entries, which others
  reclaim) or the group is gone.
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local pending = redis.pcall('XPENDING', stream, group, '-', '+', 1, consumer)
if pending.err or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
return 1
