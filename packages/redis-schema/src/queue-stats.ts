import type { Keys, StreamPartition } from './keys';
import type { RedisClient } from './redis-client';
import { redisErrorReason } from './redis-errors';

export interface QueueStats {
  readonly total: number;
  readonly pending: number;
  readonly dead_lettered: number;
  /** Entries not yet delivered to the group; null when neither Redis nor a bounded count can tell. */
  readonly lag: number | null;
  /** Consumers that read within LIVE_CONSUMER_IDLE_MS: the workers at work, not those gone. */
  readonly consumers: number;
}

export interface GroupInfo {
  readonly name: string;
  readonly consumers: number;
  readonly pending: number;
  readonly lastDeliveredId: string;
  readonly lag: number | null;
}

type Reply = string | number | null | Reply[];

/** One XINFO GROUPS reply (RESP2: a flat field/value array per group) as objects. */
export function parseGroupsReply(reply: Reply[]): GroupInfo[] {
  return reply.map((group) => {
    const fields = new Map<string, Reply>();
    const flat = group as Reply[];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]!);
    const lag = fields.get('lag');
    return {
      name: String(fields.get('name')),
      consumers: Number(fields.get('consumers') ?? 0),
      pending: Number(fields.get('pending') ?? 0),
      lastDeliveredId: String(fields.get('last-delivered-id') ?? '0-0'),
      lag: lag === null || lag === undefined ? null : Number(lag),
    };
  });
}

/** The consumer groups of a stream (XINFO GROUPS); none while the stream does not exist. */
export async function readConsumerGroups(client: RedisClient, stream: string): Promise<GroupInfo[]> {
  try {
    return parseGroupsReply((await client.sendCommand(['XINFO', 'GROUPS', stream])) as unknown as Reply[]);
  } catch (error) {
    // XINFO GROUPS refuses a missing stream instead of answering with no groups.
    if (redisErrorReason(error) === 'no such key') return [];
    throw error;
  }
}

/**
 * Counting entries is O(lag), so past this many the fallback gives up and reports null: a capped
 * number would look exact while the real backlog could be any size.
 */
export const LAG_COUNT_LIMIT = 1_000;

/**
 * Redis 7 reports a group's lag as nil when its entries-read counter cannot be trusted (the group
 * was created at an arbitrary ID, or entries after its position were deleted). The backlog is then
 * counted directly: the entries after last-delivered-id, up to LAG_COUNT_LIMIT.
 */
async function countUndelivered(client: RedisClient, stream: string, lastDeliveredId: string): Promise<number | null> {
  const entries = (await client.sendCommand([
    'XRANGE',
    stream,
    `(${lastDeliveredId}`,
    '+',
    'COUNT',
    String(LAG_COUNT_LIMIT + 1),
  ])) as unknown as unknown[];
  return entries.length > LAG_COUNT_LIMIT ? null : entries.length;
}

/**
 * A worker's read loop comes back to the group at least every WORKER_BLOCK_MS (at most 30 s), so a
 * consumer idle longer than this is gone: a crashed worker, or one of a stack or cluster that was
 * recreated, which stays in the group until maintenance removes it after WORKER_CONSUMER_IDLE_MS.
 */
export const LIVE_CONSUMER_IDLE_MS = 60_000;

export interface ConsumerInfo {
  readonly idle: number;
  /** Sent from Redis 7.2 on, where `idle` counts from the last read even if it found nothing. */
  readonly inactive?: number;
}

/**
 * The consumers that read within `liveIdleMs`. Before Redis 7.2 `idle` counts from the last read that
 * delivered entries, so a worker waiting on an empty stream looks as idle as a dead one: there every
 * consumer counts.
 */
export function countLiveConsumers(consumers: readonly ConsumerInfo[], liveIdleMs: number): number {
  return consumers.filter((consumer) => consumer.inactive === undefined || consumer.idle < liveIdleMs).length;
}

/** Queue health of one stream partition as seen by one consumer group; all zeros before either exists. */
export async function readPartitionQueueStats(
  client: RedisClient,
  partition: Pick<StreamPartition, 'stream' | 'deadLetter'>,
  groupName: string,
  liveConsumerIdleMs = LIVE_CONSUMER_IDLE_MS,
): Promise<QueueStats> {
  const [total, deadLettered, groups] = await Promise.all([
    client.xLen(partition.stream),
    client.xLen(partition.deadLetter),
    readConsumerGroups(client, partition.stream),
  ]);
  const group = groups.find(({ name }) => name === groupName);
  if (!group) return { total, pending: 0, dead_lettered: deadLettered, lag: 0, consumers: 0 };
  const [lag, consumers] = await Promise.all([
    group.lag ?? countUndelivered(client, partition.stream, group.lastDeliveredId),
    group.consumers === 0
      ? 0
      : client.xInfoConsumers(partition.stream, groupName).then((all) => countLiveConsumers(all, liveConsumerIdleMs)),
  ]);
  return { total, pending: group.pending, dead_lettered: deadLettered, lag, consumers };
}

/**
 * The partitions' counts added up; the lag is unknown (null) if any partition's is. A worker
 * consumes every partition under one name, so the consumers are the most any partition's group
 * has, not their sum.
 */
export function addUpQueueStats(partitions: readonly QueueStats[]): QueueStats {
  return partitions.reduce((sum, one) => ({
    total: sum.total + one.total,
    pending: sum.pending + one.pending,
    dead_lettered: sum.dead_lettered + one.dead_lettered,
    lag: sum.lag === null || one.lag === null ? null : sum.lag + one.lag,
    consumers: Math.max(sum.consumers, one.consumers),
  }));
}

/** Queue health of the whole stream, every partition's figures added up (addUpQueueStats). */
export async function readQueueStats(
  client: RedisClient,
  keys: Pick<Keys, 'partitions'>,
  groupName: string,
): Promise<QueueStats> {
  const partitions = await Promise.all(
    keys.partitions.map((partition) => readPartitionQueueStats(client, partition, groupName)),
  );
  return addUpQueueStats(partitions);
}
