import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRedisClient,
  isTransientRedisError,
  leaveGroup,
  removeIdleConsumers,
  trimStream,
  type RedisClient,
  type StreamPartition,
} from '@redis-ingest/redis-schema';
import { RedisFailures, type Logger } from '@redis-ingest/service-kit';
import type { WorkerConfig } from './config';
import { addOutcomes, processEntries, type ProcessOutcome, type ProcessingContext } from './process-entries';
import { readGroupWithin, reclaimIdleEntries, type GroupRead, type StreamEntry } from './stream-reads';

export type WorkerSettings = Pick<
  WorkerConfig,
  | 'redis'
  | 'readCount'
  | 'blockMs'
  | 'reclaimIntervalMs'
  | 'reclaimIdleMs'
  | 'maintenanceIntervalMs'
  | 'consumerIdleMs'
  | 'retainProcessedCount'
  | 'retainProcessedMs'
>;

export interface WorkerOptions {
  readonly context: ProcessingContext;
  readonly consumer: string;
  /** `redis` gives the blocking reads connections of their own. */
  readonly config: WorkerSettings;
}

export interface WorkerTotals extends ProcessOutcome {
  /** Entries this worker took over from consumers that had left them unacked. */
  readonly reclaimed: number;
}

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** How long past its BLOCK a read may stay unanswered before the connection counts as dead. */
export const READ_GRACE_MS = 5_000;

/** Capped exponential backoff after `failures` consecutive failed steps. */
function retryDelayMs(failures: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.min(failures, 16), RETRY_MAX_MS);
}

/** What the worker keeps per stream partition. */
interface PartitionReader {
  readonly partition: StreamPartition;
  readonly read: GroupRead;
  /** Blocking reads of this partition only: a XREADGROUP BLOCK holds its connection (on a cluster, the partition's primary's). */
  blockingClient: RedisClient | undefined;
  /** Where the next XAUTOCLAIM resumes scanning the pending entries, so none waits behind the others for ever. */
  reclaimCursor: string;
  /**
   * Ids of the entries the read loop holds: read (ahead, too) and not yet done with. One can idle
   * past the reclaim time while Redis is unreachable or a write is slow; the reclaim loop must not
   * process it a second time beside the read loop. Held by batch: a set of every id cost a few
   * percent of the worker's CPU, and the reclaim loop, which looks, runs seldom.
   */
  readonly inHand: Set<readonly StreamEntry[]>;
}

/**
 * The consumer daemon. It reads every partition of the stream through the consumer group: one read
 * loop per partition, each on a blocking connection of its own, since partitions in different
 * Cluster slots cannot share a XREADGROUP and one partition's outage must not hold up the others.
 * The group hands each partition's entries to one of its consumers, which shares the work among
 * the workers. Beside the read loops, the reclaim loop takes over entries other consumers (crashed
 * ones, mostly) left pending, and the maintenance loop trims the partitions and removes long-idle
 * consumers. `run()` resolves once every loop has stopped; `close()` stops them after the batches
 * in hand are acked.
 */
export class Worker {
  private readonly logger: Logger;
  private readonly failures: RedisFailures;
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly readers: PartitionReader[];
  private counted: WorkerTotals = { read: 0, processed: 0, deadLettered: 0, acked: 0, reclaimed: 0 };

  constructor(private readonly options: WorkerOptions) {
    const { context, consumer, config } = options;
    this.logger = context.logger.child({ consumer });
    this.failures = new RedisFailures(context.metrics.service, this.logger);
    this.readers = context.keys.partitions.map((partition) => ({
      partition,
      read: {
        stream: partition.stream,
        group: context.group,
        consumer,
        count: config.readCount,
        blockMs: config.blockMs,
      },
      blockingClient: undefined,
      reclaimCursor: '0-0',
      inHand: new Set(),
    }));
  }

  /** What this worker has done since it started. */
  get totals(): WorkerTotals {
    return this.counted;
  }

  run(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('Worker is closed'));
    if (this.running) return Promise.reject(new Error('Worker is already running'));
    const { reclaimIntervalMs, maintenanceIntervalMs, blockMs, readCount } = this.options.config;
    this.logger.info({ blockMs, readCount, partitions: this.readers.length }, 'worker started');
    this.running = Promise.all([
      ...this.readers.map((reader) => this.readLoop(reader)),
      this.repeat(reclaimIntervalMs, 'reclaim', (reader) => this.reclaim(reader)),
      this.repeat(maintenanceIntervalMs, 'maintenance', (reader) => this.maintain(reader)),
    ]).then(() => undefined);
    return this.running;
  }

  /** Idempotent: every call returns the same promise. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private get isClosing(): boolean {
    return this.stopping.signal.aborted;
  }

  private async shutdown(): Promise<void> {
    this.stopping.abort();
    for (const reader of this.readers) {
      try {
        // A XREADGROUP BLOCK already sent cannot be cancelled; dropping its connection ends it now
        // instead of up to blockMs later. Entries it was about to deliver stay pending for reclaim.
        if (reader.blockingClient?.isOpen) reader.blockingClient.destroy();
      } catch (error) {
        this.logger.warn({ err: error, partition: reader.partition.index }, 'closing the blocking connection failed');
      }
    }
    try {
      await this.running;
    } catch (error) {
      this.logger.error({ err: error }, 'worker loop failed');
    }
    await Promise.all(this.readers.map(({ partition }) => this.leave(partition)));
    this.logger.info('worker closed');
  }

  /**
   * Reads the next batch while the current ones are written: Redis and this process then work at the
   * same time instead of taking turns. A batch is acked only after its own writes, and at most three
   * batches per partition are in memory: two being written and the one read ahead.
   */
  private async readLoop(reader: PartitionReader): Promise<void> {
    const { config } = this.options;
    const readBatch = async () => {
      const entries = await readGroupWithin(
        await this.blockingConnection(reader),
        reader.read,
        config.blockMs + READ_GRACE_MS,
      );
      reader.inHand.add(entries);
      return entries;
    };
    const log = this.logger.child({ partition: reader.partition.index });
    let readAhead: Promise<StreamEntry[]> | undefined;
    let previous: Promise<void> = Promise.resolve();
    let failures = 0;
    while (!this.isClosing) {
      let entries: StreamEntry[];
      try {
        entries = await (readAhead ?? readBatch());
      } catch (error) {
        readAhead = undefined;
        if (this.isClosing) break;
        this.reportFailure(log, error, 'read', 'read failed');
        await this.pause(retryDelayMs(failures++));
        continue;
      }
      // An empty read has waited its BLOCK already; reading ahead only pays while there is a backlog.
      readAhead = entries.length > 0 && !this.isClosing ? readBatch() : undefined;
      // Settled later, by the next turn or after the loop; this keeps its failure from counting as unhandled meanwhile.
      readAhead?.catch(() => undefined);
      failures = 0;
      // Decoding this batch and sending its writes runs while Redis still executes the previous
      // batch's; waiting for that one here keeps at most two batches writing.
      const processing = this.processUntilDone(reader, entries, log);
      await previous;
      previous = processing;
    }
    await previous;
    // A batch that was read ahead before close() is in hand too; one whose read close() cut short stays pending.
    const inHand = await readAhead?.catch(() => []);
    if (inHand !== undefined && inHand.length > 0) await this.processUntilDone(reader, inHand, log);
  }

  /**
   * Processes a batch, and while Redis is unreachable tries the same batch again with backoff: its
   * entries are pending under this consumer, and no read hands them out again before the reclaim
   * loop's idle time has passed.
   */
  private async processUntilDone(reader: PartitionReader, entries: readonly StreamEntry[], log: Logger): Promise<void> {
    const { context, consumer } = this.options;
    try {
      for (let failures = 0; ; failures++) {
        try {
          this.count(await processEntries(context, consumer, reader.partition, entries));
          return;
        } catch (error) {
          this.reportFailure(log, error, 'read', 'batch failed; its entries stay pending');
          await this.pause(retryDelayMs(failures));
          // A batch Redis refused for good is left to the reclaim loop, which counts its deliveries; one
          // refused for now (unreachable, full, loading, failing over) must not use up its deliveries.
          if (!isTransientRedisError(error) || this.isClosing) return;
        }
      }
    } finally {
      reader.inHand.delete(entries);
    }
  }

  /** Counts a failed step and logs it: once per burst while Redis refuses for now. */
  private reportFailure(log: Logger, error: unknown, operation: string, message: string): void {
    this.failures.record(error, operation, log);
    if (!isTransientRedisError(error)) log.error({ err: error }, message);
  }

  /** The partition's connection for blocking reads; a new one once the read deadline has destroyed the last. */
  private async blockingConnection(reader: PartitionReader): Promise<RedisClient> {
    if (reader.blockingClient?.isOpen) return reader.blockingClient;
    const { partition } = reader;
    if (reader.blockingClient)
      this.logger.warn({ partition: partition.index }, 'a blocking read went unanswered; reading on a new connection');
    const { context, consumer, config } = this.options;
    // One partition keeps the name it always had; with several, the name tells which partition a connection reads.
    const suffix = this.readers.length === 1 ? '' : `:${partition.index}`;
    // Set before connecting, so that close() can destroy it while it is still connecting.
    reader.blockingClient = createRedisClient(config.redis, {
      name: `worker:${consumer}:blocking${suffix}`,
      logger: context.logger,
    });
    await reader.blockingClient.connect();
    return reader.blockingClient;
  }

  /**
   * Runs `step` for every partition every `intervalMs` until closed. The partitions go concurrently
   * and fail alone: one whose primary is down does not hold up the others. A failed step is logged
   * and tried again next time.
   */
  private async repeat(
    intervalMs: number,
    name: string,
    step: (reader: PartitionReader) => Promise<void>,
  ): Promise<void> {
    while (!this.isClosing) {
      await this.pause(intervalMs);
      if (this.isClosing) break;
      await Promise.all(
        this.readers.map(async (reader) => {
          try {
            await step(reader);
          } catch (error) {
            if (this.isClosing) return;
            this.failures.record(error, name);
            if (!isTransientRedisError(error))
              this.logger.warn({ err: error, partition: reader.partition.index }, `${name} failed`);
          }
        }),
      );
    }
  }

  private async reclaim(reader: PartitionReader): Promise<void> {
    const { context, consumer, config } = this.options;
    const { partition } = reader;
    const claimed = await reclaimIdleEntries(context.client, {
      stream: partition.stream,
      group: context.group,
      consumer,
      minIdleMs: config.reclaimIdleMs,
      cursor: reader.reclaimCursor,
      count: config.readCount,
    });
    reader.reclaimCursor = claimed.cursor;
    if (claimed.deleted.length > 0) {
      this.logger.warn(
        { ids: claimed.deleted, partition: partition.index },
        'pending entries no longer in the stream; Redis dropped them from the pending list',
      );
    }
    if (claimed.entries.length === 0) return;
    // Claiming one of them changed nothing but its delivery count: it stays with the read loop.
    const held = new Set<string>();
    for (const batch of reader.inHand) for (const { id } of batch) held.add(id);
    const entries = claimed.entries.filter(({ id }) => !held.has(id));
    if (entries.length === 0) return;
    this.logger.info({ reclaimed: entries.length, partition: partition.index }, 'reclaimed idle entries');
    this.counted = { ...this.counted, reclaimed: this.counted.reclaimed + entries.length };
    context.metrics.reclaimed.inc(entries.length);
    this.count(await processEntries(context, consumer, partition, entries));
  }

  private async maintain({ partition }: PartitionReader): Promise<void> {
    const { context, consumer, config } = this.options;
    const { client, group } = context;
    const { stream } = partition;
    const trimmed = await trimStream(client, {
      stream,
      group,
      retainProcessedCount: config.retainProcessedCount,
      retainProcessedMs: config.retainProcessedMs,
    });
    if (trimmed.removed > 0) this.logger.debug({ ...trimmed, partition: partition.index }, 'stream trimmed');
    const removed = await removeIdleConsumers(client, { stream, group, idleMs: config.consumerIdleMs, self: consumer });
    if (removed.length > 0)
      this.logger.info({ removed, partition: partition.index }, 'removed idle consumers without pending entries');
  }

  private async leave({ stream, index }: PartitionReader['partition']): Promise<void> {
    const { context, consumer } = this.options;
    try {
      if (!(await leaveGroup(context.client, stream, context.group, consumer)))
        this.logger.info({ partition: index }, 'stays in the group with pending entries');
    } catch (error) {
      // Maintenance of the other workers removes it later, once idle for WORKER_CONSUMER_IDLE_MS.
      this.logger.warn({ err: error, partition: index }, 'leaving the consumer group failed');
    }
  }

  private count(outcome: ProcessOutcome): void {
    this.counted = { ...addOutcomes([this.counted, outcome]), reclaimed: this.counted.reclaimed };
  }

  /** A delay that close() cuts short. */
  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
    } catch {
      // Aborted by close(): the loop condition ends the loop.
    }
  }
}
