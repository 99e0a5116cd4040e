import {
  REPLAY_HISTORY_FIELD,
  deadLetterFields,
  canonicalSample,
  decodeEntry,
  describeErrors,
  entryFields,
  eventFields,
  isTransientRedisError,
  packedSample,
  splitReplayHistory,
  type Failure,
  type Keys,
  type RedisClient,
  type RollupStore,
  type Sample,
  type StreamPartition,
  type WriteResult,
  writeDeadLetters,
} from '@redis-ingest/redis-schema';
import type { Logger } from '@redis-ingest/service-kit';
import type { DeadLetterCause, WorkerMetrics } from './metrics';
import { readGroup, type StreamEntry } from './stream-reads';

/** What processing needs, whichever consumer name it acts under. */
export interface ProcessingContext {
  /** For writes and acks; never used for blocking reads. */
  readonly client: RedisClient;
  readonly store: RollupStore;
  readonly keys: Keys;
  readonly group: string;
  readonly logger: Logger;
  /** An entry delivered more often than this is dead-lettered without another attempt. */
  readonly maxDeliveries: number;
  /** Approximate cap on the dead-letter stream's length. */
  readonly deadLetterMaxLen: number;
  readonly metrics: WorkerMetrics;
}

export interface ProcessOutcome {
  readonly read: number;
  /** Entries whose sample the store accepted. */
  readonly processed: number;
  readonly deadLettered: number;
  /** What XACK removed from the pending list; less than processed + deadLettered when another consumer acked first. */
  readonly acked: number;
}

export const MAX_DELIVERIES_REASON = 'max deliveries exceeded';

const NOTHING: ProcessOutcome = { read: 0, processed: 0, deadLettered: 0, acked: 0 };

/** The outcomes of several batches as one. */
export function addOutcomes(outcomes: readonly ProcessOutcome[]): ProcessOutcome {
  return outcomes.reduce(
    (sum, one) => ({
      read: sum.read + one.read,
      processed: sum.processed + one.processed,
      deadLettered: sum.deadLettered + one.deadLettered,
      acked: sum.acked + one.acked,
    }),
    NOTHING,
  );
}

/** An entry's fields with a replay's history split off: the history is no event field. */
interface Unpacked {
  readonly entry: StreamEntry;
  readonly payload: Readonly<Record<string, string>>;
  readonly history: readonly Failure[];
}

const NO_HISTORY: readonly Failure[] = [];

/** Only a replayed entry carries a history; every other entry's fields are its payload as they are. */
function unpack(entry: StreamEntry): Unpacked {
  const fields = entryFields(entry.pairs);
  if (!Object.hasOwn(fields, REPLAY_HISTORY_FIELD)) return { entry, payload: fields, history: NO_HISTORY };
  const { fields: payload, history } = splitReplayHistory(fields);
  return { entry, payload: eventFields(payload), history };
}

interface Rejected extends Unpacked {
  readonly reason: string;
  readonly cause: DeadLetterCause;
}

interface Decoded {
  readonly entry: StreamEntry;
  readonly sample: Sample;
}

/**
 * The entry's sample, or its fields with the reason it has none. An entry in the ingest-api's shape
 * is read without building its fields; any other is judged by the event schema.
 */
function decode(entry: StreamEntry): Sample | Omit<Rejected, 'cause'> {
  const packed = packedSample(entry.pairs);
  if (packed) return packed;
  const unpacked = unpack(entry);
  const sample = canonicalSample(unpacked.payload);
  if (sample) return sample;
  const decoded = decodeEntry(unpacked.payload);
  if (!decoded.ok) return { ...unpacked, reason: describeErrors(decoded.errors) };
  const { metric, source, value } = decoded.event;
  return { metric, source, value, timestampMs: decoded.timestampMs };
}

/**
 * Stores the valid entries' samples, dead-letters the rest, then acks exactly the entries whose
 * sample or dead letter is safely in Redis. Anything else stays pending, to be delivered again, and
 * an entry delivered more than `maxDeliveries` times is dead-lettered untried. Rejects when Redis was
 * unreachable; a rejection may leave some samples written, which is harmless because a repeated
 * sample keeps the last value.
 */
export async function processEntries(
  context: ProcessingContext,
  consumer: string,
  partition: StreamPartition,
  entries: readonly StreamEntry[],
): Promise<ProcessOutcome> {
  if (entries.length === 0) return NOTHING;
  const { metrics } = context;
  const stopTimer = metrics.batchSeconds.startTimer();
  try {
    const outcome = await processBatch(context, consumer, partition, entries);
    metrics.processed.inc(outcome.processed);
    return outcome;
  } finally {
    stopTimer();
    metrics.batches.inc();
  }
}

async function processBatch(
  context: ProcessingContext,
  consumer: string,
  partition: StreamPartition,
  entries: readonly StreamEntry[],
): Promise<ProcessOutcome> {
  const { client, group, logger } = context;

  const valid: Decoded[] = [];
  const rejected: Rejected[] = [];
  for (const entry of entries) {
    if (entry.deliveryCount !== undefined && entry.deliveryCount > context.maxDeliveries) {
      rejected.push({ ...unpack(entry), reason: MAX_DELIVERIES_REASON, cause: 'max_deliveries' });
      continue;
    }
    const decoded = decode(entry);
    if ('timestampMs' in decoded) valid.push({ entry, sample: decoded });
    else rejected.push({ ...decoded, cause: 'validation' });
  }

  const stored: string[] = [];
  const results = await storeIsolatingFailures(context, valid);
  results.forEach((result, i) => {
    if (result === undefined) return;
    if (result.ok) stored.push(valid[i]!.entry.id);
    else rejected.push({ ...unpack(valid[i]!.entry), reason: result.reason, cause: 'store_refused' });
  });

  // Together, so they share one round trip.
  const [deadLettered, storedAcked] = await Promise.all([
    deadLetter(context, consumer, partition, rejected),
    stored.length === 0 ? 0 : client.xAck(partition.stream, group, stored),
  ]);
  const acked = storedAcked + deadLettered;
  logger.debug(
    { consumer, partition: partition.index, read: entries.length, processed: stored.length, deadLettered, acked },
    'batch processed',
  );
  return { read: entries.length, processed: stored.length, deadLettered, acked };
}

/**
 * One store call for the batch. When Redis refuses that call outright (not a connection failure),
 * each sample is tried alone, so one entry the store can never take does not hold back the rest:
 * only the culprit is left without a result, stays pending, and reaches the delivery limit.
 */
async function storeIsolatingFailures(
  context: ProcessingContext,
  valid: readonly Decoded[],
): Promise<(WriteResult | undefined)[]> {
  if (valid.length === 0) return [];
  try {
    return await context.store.addSamples(valid.map(({ sample }) => sample));
  } catch (error) {
    if (isTransientRedisError(error)) throw error;
    if (valid.length === 1) {
      context.logger.error({ err: error, messageId: valid[0]!.entry.id }, 'store refused the entry; it stays pending');
      return [undefined];
    }
    const alone = await Promise.all(valid.map((one) => storeIsolatingFailures(context, [one])));
    return alone.flat();
  }
}

/** Writes the dead letters of `rejected` and acks them; answers how many this call dead-lettered. */
async function deadLetter(
  context: ProcessingContext,
  consumer: string,
  partition: StreamPartition,
  rejected: readonly Rejected[],
): Promise<number> {
  if (rejected.length === 0) return 0;
  const { client, group, logger, deadLetterMaxLen } = context;
  const failedAt = new Date().toISOString();
  const letters = rejected.map(({ entry, payload, history, reason }) => ({
    id: entry.id,
    fields: deadLetterFields({ messageId: entry.id, reason, failedAt, consumer }, payload, history),
  }));
  const outcomes = await writeDeadLetters(client, partition, group, deadLetterMaxLen, letters);
  let written = 0;
  outcomes.forEach((outcome, i) => {
    if (outcome === 1) {
      written++;
      context.metrics.deadLettered.inc({ reason: rejected[i]!.cause });
    } else if (typeof outcome === 'string') {
      logger.error({ err: outcome, messageId: rejected[i]!.entry.id }, 'dead-letter write refused; entry left pending');
    }
  });
  return written;
}

export interface DrainRequest {
  readonly consumer: string;
  readonly count: number;
}

/**
 * How many of `count` entries the drain asks each of `partitions` partitions for: an even split,
 * the remainder going to the first ones. A partition whose share is 0 (count below the number of
 * partitions) is not read.
 */
export function drainShares(count: number, partitions: number): number[] {
  return Array.from(
    { length: partitions },
    (_, index) => Math.floor(count / partitions) + (index < count % partitions ? 1 : 0),
  );
}

/**
 * The HTTP drain: one non-blocking read of new entries per partition on the shared connection, the
 * count split evenly between them (drainShares), then each partition's entries processed against
 * that partition. Reads that never block keep the shared connection free; a partition with fewer
 * new entries than its share leaves the difference unread rather than taking a second round trip.
 */
export async function readAndProcess(
  context: ProcessingContext,
  { consumer, count }: DrainRequest,
): Promise<ProcessOutcome> {
  const { client, keys, group } = context;
  const shares = drainShares(count, keys.partitions.length);
  const outcomes = await Promise.all(
    keys.partitions.map(async (partition, index) => {
      if (shares[index] === 0) return NOTHING;
      const entries = await readGroup(client, { stream: partition.stream, group, consumer, count: shares[index]! });
      return processEntries(context, consumer, partition, entries);
    }),
  );
  return addOutcomes(outcomes);
}
