#!lua
--[[
  Appends a batch of validated events to the stream, unless the consumer group is too far behind.

  KEYS[1]     the stream
  KEYS[2..n]  idempotency keys, one per event that carries an event id, in the events' order
  ARGV[1]     consumer group name
  ARGV[2]     maximum backlog (lag + pending); 0 disables the check
  ARGV[3]     idempotency window in milliseconds
  ARGV[4]     '1' to reply with every entry id, '0' to name only the duplicates
  ARGV[5..]   per event, 2 values: the event as packEvent spells it, the value of its one field
              EVENT_FIELD (a constant the loader prepends), and its eventId ('' for none)

  Returns the 1-based positions of the duplicates, events whose id was seen inside the window (nearly
  always none), and with ids {ids, those positions}, a duplicate's id being that of the entry first
  written for it. A caller that answers with a count would decode a thousand ids only to drop them.
  Replies BACKPRESSURE <backlog> without writing when the group is behind.

  The shebang declares the script a writing one with no other flags, so Redis refuses it whole (OOM,
  MISCONF, READONLY) before it runs rather than at the first write: a batch is in or out, never half.
]]
--@include consumer-group

local stream = KEYS[1]
local group = ARGV[1]
local maxBacklog = tonumber(ARGV[2])
local windowMs = ARGV[3]
local replyIds = ARGV[4] == '1'

if maxBacklog > 0 then
  local backlog
  local fields = consumerGroup(stream, group)
  if fields then
    -- lag is nil when Redis cannot compute it; the stream length is then an upper bound.
    local lag = fields['lag']
    if not lag then lag = redis.call('XLEN', stream) end
    backlog = fields['pending'] + lag
  else
    -- Without a group nothing has been delivered yet: every entry is backlog.
    backlog = redis.call('XLEN', stream)
  end
  if backlog >= maxBacklog then
    return redis.error_reply('BACKPRESSURE ' .. backlog)
  end
end

local ids = {}
local duplicatePositions = {}
local nextKey = 2
for i = 5, #ARGV, 2 do
  local eventId = ARGV[i + 1]
  local idempotencyKey = false
  local existing = false
  if eventId ~= '' then
    idempotencyKey = KEYS[nextKey]
    nextKey = nextKey + 1
    existing = redis.call('GET', idempotencyKey)
  end
  local id = existing
  if not existing then
    id = redis.call('XADD', stream, '*', EVENT_FIELD, ARGV[i])
    if idempotencyKey then
      redis.call('SET', idempotencyKey, id, 'PX', windowMs)
    end
  end
  if replyIds then ids[#ids + 1] = id end
  if existing then duplicatePositions[#duplicatePositions + 1] = (i - 5) / 2 + 1 end
end
if replyIds then return {ids, duplicatePositions} end
return duplicatePositions
