import type { RedisClient } from '@redis-ingest/redis-schema';

/** One stream entry to process, whether a group read delivered it or a reclaim claimed it. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
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
  return streams.flatMap(([, entries]) => entries.map(([id, flat]) => ({ id, fields: fieldsFromPairs(flat ?? []) })));
}

function fieldsFromPairs(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    // defineProperty, not assignment: a field literally named "__proto__" must stay an ordinary field.
    Object.defineProperty(fields, flat[i]!, { value: flat[i + 1]!, enumerable: true, writable: true, configurable: true });
  }
  return fields;
}

/** Creates the group (and the stream) so that it starts at the oldest entry; a group that exists is left as it is. */
export async function ensureConsumerGroup(client: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await client.sendCommand(['XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM']);
  } catch (error) {
    if (!hasErrorCode(error, 'BUSYGROUP')) throw error;
  }
}

export interface ReadOptions {
  /** Gives up on a reply that has not come this long after sending; the entries stay pending. */
  readonly timeoutMs?: number;
}

/**
 * Reads new entries for `read.consumer`. When the group is gone (the stream was deleted, or FLUSHALL
 * in development) it is created again and the read retried once, instead of failing every read.
 */
export async function readGroup(client: RedisClient, read: GroupRead, { timeoutMs }: ReadOptions = {}): Promise<StreamEntry[]> {
  const args = groupReadArguments(read);
  const send = async () => parseGroupReadReply(await client.sendCommand(args, { timeout: timeoutMs }));
  try {
    return await send();
  } catch (error) {
    if (!hasErrorCode(error, 'NOGROUP')) throw error;
    await ensureConsumerGroup(client, read.stream, read.group);
    return send();
  }
}

/** Redis error replies start with an upper-case code such as BUSYGROUP or NOGROUP. */
function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && error.message.startsWith(`${code} `);
}
