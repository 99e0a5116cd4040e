import { redisErrorReason, type RedisClient, type StreamPartition } from '@redis-ingest/redis-schema';
import { compareStreamIds } from '../stream-ids';

export interface StreamCounters {
  /** Entries in the stream now; trimming and deletion lower it. */
  readonly length: number;
  /** Entries ever added; only grows, so successive readings give the ingest rate even when the stream is trimmed. */
  readonly entriesAdded: number;
  readonly lastId: string | null;
  /** When Redis was asked, epoch milliseconds of this server's clock. */
  readonly readAtMs: number;
}

type Reply = string | number | null | Reply[];

/** The counters of one XINFO STREAM reply (RESP2: a flat field/value array). */
function parseStreamInfo(reply: Reply[], readAtMs: number): StreamCounters {
  const fields = new Map<string, Reply>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]!);
  const lastId = fields.get('last-generated-id');
  return {
    length: Number(fields.get('length') ?? 0),
    entriesAdded: Number(fields.get('entries-added') ?? 0),
    // An empty stream that never had an entry reports 0-0.
    lastId: lastId === undefined || lastId === null || lastId === '0-0' ? null : String(lastId),
    readAtMs,
  };
}

async function readPartitionCounters(client: RedisClient, stream: string, readAtMs: number): Promise<StreamCounters> {
  try {
    return parseStreamInfo((await client.sendCommand(['XINFO', 'STREAM', stream])) as unknown as Reply[], readAtMs);
  } catch (error) {
    // XINFO STREAM refuses a missing stream instead of answering with zeros.
    if (redisErrorReason(error) === 'no such key') return { length: 0, entriesAdded: 0, lastId: null, readAtMs };
    throw error;
  }
}

/** The whole stream's counters: every partition's added up, and the newest of their last ids. */
export async function readStreamCounters(
  client: RedisClient,
  partitions: readonly Pick<StreamPartition, 'stream'>[],
): Promise<StreamCounters> {
  const readAtMs = Date.now();
  const counters = await Promise.all(partitions.map(({ stream }) => readPartitionCounters(client, stream, readAtMs)));
  return counters.reduce((sum, one) => ({
    length: sum.length + one.length,
    entriesAdded: sum.entriesAdded + one.entriesAdded,
    lastId:
      sum.lastId === null || (one.lastId !== null && compareStreamIds(one.lastId, sum.lastId) > 0)
        ? one.lastId
        : sum.lastId,
    readAtMs,
  }));
}
