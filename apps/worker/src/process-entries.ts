import {
  decodeEntry,
  describeErrors,
  isConnectionError,
  type Keys,
  type RedisClient,
  type RollupStore,
  type Sample,
} from '@redis-ingest/redis-schema';
import type { Logger } from '@redis-ingest/service-kit';
import { readGroup, type ReadOptions, type StreamEntry } from './stream-reads';

/** What processing needs, whichever consumer name it acts under. */
export interface ProcessingContext {
  /** For writes and acks; never used for blocking reads. */
  readonly client: RedisClient;
  readonly store: RollupStore;
  readonly keys: Keys;
  readonly group: string;
  readonly logger: Logger;
}

export interface ProcessOutcome {
  readonly read: number;
  /** Entries whose sample the store accepted. */
  readonly processed: number;
  readonly deadLettered: number;
  /** What XACK removed from the pending list; less than processed + deadLettered when another consumer acked first. */
  readonly acked: number;
}

interface Rejected {
  readonly entry: StreamEntry;
  readonly reason: string;
}

/**
 * Stores the valid entries' samples in one store call, dead-letters the rest, then acks exactly the
 * entries whose sample or dead letter is safely in Redis. Anything else stays pending, to be
 * delivered again. Rejects when Redis was unreachable; a rejection may leave some samples written,
 * which is harmless because a repeated sample keeps the last value.
 */
export async function processEntries(
  context: ProcessingContext,
  consumer: string,
  entries: readonly StreamEntry[],
): Promise<ProcessOutcome> {
  if (entries.length === 0) return { read: 0, processed: 0, deadLettered: 0, acked: 0 };
  const { client, store, keys, group, logger } = context;

  const valid: { entry: StreamEntry; sample: Sample }[] = [];
  const rejected: Rejected[] = [];
  for (const entry of entries) {
    const decoded = decodeEntry(entry.fields);
    if (decoded.ok) {
      const { metric, source, value } = decoded.event;
      valid.push({ entry, sample: { metric, source, value, timestampMs: decoded.timestampMs } });
    } else {
      rejected.push({ entry, reason: describeErrors(decoded.errors) });
    }
  }

  const stored: string[] = [];
  if (valid.length > 0) {
    const results = await store.addSamples(valid.map(({ sample }) => sample));
    results.forEach((result, i) => {
      const { entry } = valid[i]!;
      if (result.ok) stored.push(entry.id);
      else rejected.push({ entry, reason: result.reason });
    });
  }

  const failedAt = new Date().toISOString();
  // Issued together so they share one round trip; the ack waits for their replies because an entry
  // acked after a refused XADD (OOM, a wrong key type) would be gone from the pending list unrecorded.
  const deadLetterWrites = await Promise.allSettled(
    rejected.map(({ entry, reason }) => client.xAdd(keys.deadLetter, '*', deadLetterFields(entry, reason, failedAt, consumer))),
  );
  const deadLettered: string[] = [];
  deadLetterWrites.forEach((write, i) => {
    const { entry } = rejected[i]!;
    if (write.status === 'fulfilled') deadLettered.push(entry.id);
    else if (isConnectionError(write.reason)) throw write.reason;
    else logger.error({ err: write.reason, messageId: entry.id }, 'dead-letter write refused; entry left pending');
  });

  const toAck = [...stored, ...deadLettered];
  const acked = toAck.length === 0 ? 0 : await client.xAck(keys.stream, group, toAck);
  logger.debug({ consumer, read: entries.length, processed: stored.length, deadLettered: deadLettered.length, acked }, 'batch processed');
  return { read: entries.length, processed: stored.length, deadLettered: deadLettered.length, acked };
}

/** The dead-letter record: enough to see what arrived, why it was refused, and who refused it when. */
function deadLetterFields(entry: StreamEntry, reason: string, failedAt: string, consumer: string): Record<string, string> {
  return {
    messageId: entry.id,
    reason,
    payload: JSON.stringify(entry.fields),
    failedAt,
    consumer,
    ...(entry.deliveryCount === undefined ? {} : { deliveryCount: String(entry.deliveryCount) }),
  };
}

export interface DrainRequest extends ReadOptions {
  readonly consumer: string;
  readonly count: number;
  readonly blockMs?: number;
}

/** One read of new entries through `readClient`, then their processing: the daemon's step and the HTTP drain alike. */
export async function readAndProcess(
  context: ProcessingContext,
  readClient: RedisClient,
  { consumer, count, blockMs, timeoutMs }: DrainRequest,
): Promise<ProcessOutcome> {
  const { keys, group } = context;
  const entries = await readGroup(readClient, { stream: keys.stream, group, consumer, count, blockMs }, { timeoutMs });
  return processEntries(context, consumer, entries);
}
