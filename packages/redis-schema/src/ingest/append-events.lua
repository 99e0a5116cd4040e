#!lua
--[[
  Appends a batch of validated events to the stream, unless the consumer group is too far behind.

  KEYS[1]     the stream
  KEYS[2..n]  idempotency keys, one per event that carries an event id
  ARGV[1]     consumer group name
  ARGV[2]     maximum backlog (lag + pending); 0 disables the check
  ARGV[3]     idempotency window in milliseconds
  ARGV[4..]   per event, 6 values: idempotency key index into KEYS (0 for none), source, metric,
              value, occurredAt, eventId ('' for none)

  Returns {ids, duplicate flags}: for an event id seen inside the window, the id of the entry first
  written for it and flag 1. Replies BACKPRESSURE <backlog> without writing when the group is behind.

  The shebang declares the script a writing one with no other flags, so Redis refuses it whole (OOM,
  MISCONF, READONLY) before it runs rather than at the first write: a batch is in or out, never half.
]]
--@include consumer-group

local stream = KEYS[1]
local group = ARGV[1]
local maxBacklog = tonumber(ARGV[2])
local windowMs = ARGV[3]

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
local duplicates = {}
for i = 4, #ARGV, 6 do
  local keyIndex = tonumber(ARGV[i])
  local existing = false
  if keyIndex > 0 then existing = redis.call('GET', KEYS[keyIndex]) end
  if existing then
    ids[#ids + 1] = existing
    duplicates[#duplicates + 1] = 1
  else
    local id
    if ARGV[i + 5] == '' then
      id = redis.call('XADD', stream, '*', 'source', ARGV[i + 1], 'metric', ARGV[i + 2], 'value', ARGV[i + 3],
        'occurredAt', ARGV[i + 4])
    else
      id = redis.call('XADD', stream, '*', 'source', ARGV[i + 1], 'metric', ARGV[i + 2], 'value', ARGV[i + 3],
        'occurredAt', ARGV[i + 4], 'eventId', ARGV[i + 5])
    end
    if keyIndex > 0 then redis.call('SET', KEYS[keyIndex], id, 'PX', windowMs) end
    ids[#ids + 1] = id
    duplicates[#duplicates + 1] = 0
  end
end
return {ids, duplicates}
