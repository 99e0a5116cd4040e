import { redisErrorCode, type RedisClient } from '@redis-ingest/redis-schema';

/** One stream entry to process, whether a group read delivered it or a reclaim claimed it. */
export interface StreamEntry {
  readonly id: string;
  /**
   * Its fields and values in turn, as Redis lists them: most entries are the ingest-api's, read
   * straight from this list (packedSample), and only the others are made into records (entryFields).
   */
  readonly pairs: readonly string[];
  /** How many times the group has delivered it, when the source reports it (XPENDING, XAUTOCLAIM). */
  readonly deliveryCount?: number;
}

export interface GroupRead {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly count: number;
  /** Omitted, the read answers at once, which is what a read on a shared connection must do. */
  readonly blockMs?: number;
}

/** XREADGROUP for entries never delivered to any consumer of the group (`>`). */
export function groupReadArguments({ stream, group, consumer, count, blockMs }: GroupRead): string[] {
  const block = blockMs === undefined ? [] : ['BLOCK', String(blockMs)];
  return ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), ...block, 'STREAMS', stream, '>'];
}

type RawEntry = [id: string, fields: string[] | null];
type RawGroupReadReply = [stream: string, entries: RawEntry[]][] | null;

/** The RESP2 reply of XREADGROUP: null when nothing arrived, else per stream a list of [id, [field, value, ...]]. */
export function parseGroupReadReply(reply: unknown): StreamEntry[] {
  const streams = reply as RawGroupReadReply;
  if (streams === null) return [];
  return streams.flatMap(([, entries]) => entries.map(toStreamEntry));
}

const NO_FIELDS: readonly string[] = [];

/** An entry deleted while pending comes back with null fields. */
function toStreamEntry([id, pairs]: RawEntry): StreamEntry {
  return { id, pairs: pairs ?? NO_FIELDS };
}

/** Creates the group (and the stream) so that it starts at the oldest entry; a group that exists is left as it is. */
export async function ensureConsumerGroup(client: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await client.sendCommand(['XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM']);
  } catch (error) {
    if (redisErrorCode(error) !== 'BUSYGROUP') throw error;
  }
}

/**
 * Reads new entries for `read.consumer`. When the group is gone (the stream was deleted, or FLUSHALL
 * in development) it is created again and the read retried once, instead of failing every read.
 */
export async function readGroup(client: RedisClient, read: GroupRead): Promise<StreamEntry[]> {
  const args = groupReadArguments(read);
  const send = async () => parseGroupReadReply(await client.sendCommand(args));
  try {
    return await send();
  } catch (error) {
    if (redisErrorCode(error) !== 'NOGROUP') throw error;
    await ensureConsumerGroup(client, read.stream, read.group);
    return send();
  }
}

/**
 * readGroup on a connection of its own that is destroyed when no reply has come `deadlineMs` after
 * sending. node-redis drops a command's timeout once the command is written, so a blocking read on a
 * connection that died without closing would otherwise wait forever. The caller opens a new
 * connection when this one is no longer open.
 */
export async function readGroupWithin(
  client: RedisClient,
  read: GroupRead,
  deadlineMs: number,
): Promise<StreamEntry[]> {
  // destroy() throws on a client already closed, and a throw in a timer would end the process.
  const timer = setTimeout(() => client.isOpen && client.destroy(), deadlineMs);
  try {
    return await readGroup(client, read);
  } finally {
    clearTimeout(timer);
  }
}

export interface Reclaim {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly minIdleMs: number;
  /** Where the scan of the pending entries list resumes; 0-0 starts over. */
  readonly cursor: string;
  readonly count: number;
}

export interface ReclaimReply {
  /** The cursor for the next call; 0-0 once the scan has reached the end. */
  readonly cursor: string;
  readonly entries: StreamEntry[];
  /** Pending ids whose entries no longer exist; Redis has already removed them from the pending list. */
  readonly deleted: string[];
}

export function reclaimArguments({ stream, group, consumer, minIdleMs, cursor, count }: Reclaim): string[] {
  return ['XAUTOCLAIM', stream, group, consumer, String(minIdleMs), cursor, 'COUNT', String(count)];
}

/** The RESP2 reply of XAUTOCLAIM on Redis 7: [next cursor, claimed entries as XRANGE gives them, deleted ids]. */
export function parseReclaimReply(reply: unknown): ReclaimReply {
  const [cursor, entries, deleted] = reply as [string, RawEntry[], string[] | undefined];
  return {
    cursor,
    entries: entries.map(toStreamEntry),
    deleted: deleted ?? [],
  };
}

type RawPendingEntry = [id: string, consumer: string, idleMs: number, deliveries: number];

/** XPENDING's extended form: how often each pending entry of `consumer` between two ids was delivered. */
export function deliveryCountsArguments(
  stream: string,
  group: string,
  consumer: string,
  ids: readonly string[],
): string[] {
  return ['XPENDING', stream, group, ids[0]!, ids[ids.length - 1]!, String(ids.length), consumer];
}

export function parseDeliveryCounts(reply: unknown): Map<string, number> {
  return new Map((reply as RawPendingEntry[]).map(([id, , , deliveries]) => [id, Number(deliveries)]));
}

/**
 * Takes over entries other consumers received but have not acked for `minIdleMs`, with how often each
 * has been delivered, which the claim itself counts. An entry acked between the two calls has no
 * count; processing it again is harmless and its ack finds nothing.
 */
export async function reclaimIdleEntries(client: RedisClient, reclaim: Reclaim): Promise<ReclaimReply> {
  const claimed = parseReclaimReply(await client.sendCommand(reclaimArguments(reclaim)));
  if (claimed.entries.length === 0) return claimed;
  const ids = claimed.entries.map(({ id }) => id);
  const counts = parseDeliveryCounts(
    await client.sendCommand(deliveryCountsArguments(reclaim.stream, reclaim.group, reclaim.consumer, ids)),
  );
  return { ...claimed, entries: claimed.entries.map((entry) => ({ ...entry, deliveryCount: counts.get(entry.id) })) };
}
