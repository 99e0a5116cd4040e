import { LuaScript, type RedisClient } from '@redis-ingest/redis-schema';

/**
 * Trims the stream below the oldest entry the group has not finished with, keeping a window of
 * processed entries for the recent-events view. One script, so the group cannot move between
 * reading its position and trimming.
 *
 * KEYS[1]  the stream
 * ARGV[1]  the consumer group
 * ARGV[2]  processed entries kept by count: the newest this many below the group's floor
 * ARGV[3]  processed entries kept by age in milliseconds, by the server's clock
 *
 * Returns {entries removed, the MINID used or '' when nothing could go}.
 *
 * The floor is the lower of the oldest pending id (XPENDING's summary) and the first entry after
 * the group's last-delivered-id. An entry is removed only when it is below the floor and outside
 * both windows; `MINID ~` removes whole nodes below the threshold, never anything at or above it.
 */
const trimScript = new LuaScript(
  'trim-stream',
  `
local stream, group = KEYS[1], ARGV[1]
local retainCount, retainMs = tonumber(ARGV[2]), tonumber(ARGV[3])

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function lower(a, b)
  if a == nil then return b end
  if b == nil then return a end
  local ams, aseq = parse(a)
  local bms, bseq = parse(b)
  if ams < bms or (ams == bms and aseq < bseq) then return a end
  return b
end

if redis.call('EXISTS', stream) == 0 then return {0, ''} end
local lastDelivered = nil
for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['name'] == group then lastDelivered = fields['last-delivered-id'] end
end
-- Without the group nothing has been delivered yet: every entry is still to do.
if lastDelivered == nil then return {0, ''} end

local floor = redis.call('XPENDING', stream, group)[2] or nil
local undelivered = redis.call('XRANGE', stream, '(' .. lastDelivered, '+', 'COUNT', 1)[1]
if undelivered then floor = lower(floor, undelivered[1]) end

local time = redis.call('TIME')
local byAge = string.format('%d-0', math.max(0, tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - retainMs))
local threshold = lower(floor, byAge)
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if first == nil or lower(first[1], threshold) == threshold then return {0, ''} end

if retainCount > 0 then
  local newest = redis.call('XREVRANGE', stream, floor and ('(' .. floor) or '+', '-', 'COUNT', retainCount)
  if #newest < retainCount then return {0, ''} end
  threshold = lower(threshold, newest[#newest][1])
end
return {redis.call('XTRIM', stream, 'MINID', '~', threshold), threshold}
`,
);

export interface StreamRetention {
  readonly stream: string;
  readonly group: string;
  readonly retainProcessedCount: number;
  readonly retainProcessedMs: number;
}

export interface TrimOutcome {
  readonly removed: number;
  /** The MINID the stream was trimmed to, or undefined when nothing could go. */
  readonly minId: string | undefined;
}

export async function trimStream(client: RedisClient, retention: StreamRetention): Promise<TrimOutcome> {
  const { stream, group, retainProcessedCount, retainProcessedMs } = retention;
  const [removed, minId] = (await trimScript.run(
    client,
    [stream],
    [group, String(retainProcessedCount), String(retainProcessedMs)],
  )) as [number, string];
  return { removed, minId: minId === '' ? undefined : minId };
}

/**
 * Removes consumers idle longer than ARGV[2] ms that hold no pending entries, never ARGV[3] (the
 * caller). One script, because XGROUP DELCONSUMER drops the pending entries of the consumer it
 * removes: an entry delivered between a separate check and the delete would be lost to the group.
 *
 * KEYS[1] the stream; ARGV[1] the group. Returns the names removed.
 */
const removeIdleConsumersScript = new LuaScript(
  'remove-idle-consumers',
  `
local stream, group, idleMs, keep = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local removed = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['name'] ~= keep and fields['pending'] == 0 and fields['idle'] > idleMs then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, fields['name'])
    removed[#removed + 1] = fields['name']
  end
end
return removed
`,
);

export interface ConsumerCleanup {
  readonly stream: string;
  readonly group: string;
  readonly idleMs: number;
  /** The consumer asking, which is in use whatever its idle time says. */
  readonly self: string;
}

export async function removeIdleConsumers(
  client: RedisClient,
  { stream, group, idleMs, self }: ConsumerCleanup,
): Promise<string[]> {
  return (await removeIdleConsumersScript.run(client, [stream], [group, String(idleMs), self])) as string[];
}

/**
 * Removes consumer ARGV[2] from group ARGV[1] of stream KEYS[1] unless it holds pending entries, in one
 * script for the reason above. Returns 1 once the consumer is not in the group, 0 if it stays (it
 * holds entries, which others reclaim) or the group is gone.
 */
const leaveGroupScript = new LuaScript(
  'leave-group',
  `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local pending = redis.pcall('XPENDING', stream, group, '-', '+', 1, consumer)
if pending.err or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
return 1
`,
);

/**
 * A worker that stops cleanly leaves the group, so the summary stops counting it at once, on every
 * Redis version; one that still holds entries stays until others reclaim them and maintenance removes it.
 */
export async function leaveGroup(
  client: RedisClient,
  stream: string,
  group: string,
  consumer: string,
): Promise<boolean> {
  return (await leaveGroupScript.run(client, [stream], [group, consumer])) === 1;
}
