import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorReply } from 'redis';
import { createRedisClient, isConnectionError, type RedisClient } from '@redis-ingest/redis-schema';
import type { Logger } from '@redis-ingest/service-kit';
import type { WorkerConfig } from './config';
import { removeIdleConsumers, trimStream } from './maintenance';
import { processEntries, type ProcessOutcome, type ProcessingContext } from './process-entries';
import { readGroupWithin, reclaimIdleEntries } from './stream-reads';

export type WorkerSettings = Pick<
  WorkerConfig,
  | 'redisUrl'
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
  /** `redisUrl` gives the blocking reads a connection of their own. */
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

/** Errors that came from Redis, as opposed to this process. */
export const isRedisError = (error: unknown) => isConnectionError(error) || error instanceof ErrorReply;

/** Capped exponential backoff after `failures` consecutive failed steps. */
function retryDelayMs(failures: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.min(failures, 16), RETRY_MAX_MS);
}

/**
 * The consumer daemon. Three loops run until closed: the read loop processes new entries of the
 * group in batches; the reclaim loop takes over entries other consumers (crashed ones, mostly) left
 * pending; the maintenance loop trims the stream and removes long-idle consumers. `run()` resolves
 * once all three have stopped; `close()` stops them after the batch in hand is acked.
 */
export class Worker {
  private readonly logger: Logger;
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private blockingClient: RedisClient | undefined;
  private counted: WorkerTotals = { read: 0, processed: 0, deadLettered: 0, acked: 0, reclaimed: 0 };
  /** Where the next XAUTOCLAIM resumes scanning the pending entries, so none waits behind the others for ever. */
  private reclaimCursor = '0-0';

  constructor(private readonly options: WorkerOptions) {
    this.logger = options.context.logger.child({ consumer: options.consumer });
  }

  /** What this worker has done since it started. */
  get totals(): WorkerTotals {
    return this.counted;
  }

  run(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('Worker is closed'));
    if (this.running) return Promise.reject(new Error('Worker is already running'));
    const { reclaimIntervalMs, maintenanceIntervalMs } = this.options.config;
    this.running = Promise.all([
      this.readLoop(),
      this.repeat(reclaimIntervalMs, 'reclaim', () => this.reclaim()),
      this.repeat(maintenanceIntervalMs, 'maintenance', () => this.maintain()),
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
    try {
      // A XREADGROUP BLOCK already sent cannot be cancelled; dropping its connection ends it now
      // instead of up to blockMs later. Entries it was about to deliver stay pending for reclaim.
      if (this.blockingClient?.isOpen) this.blockingClient.destroy();
    } catch (error) {
      this.logger.warn({ err: error }, 'closing the blocking connection failed');
    }
    try {
      await this.running;
    } catch (error) {
      this.logger.error({ err: error }, 'worker loop failed');
    }
    this.logger.info('worker closed');
  }

  private async readLoop(): Promise<void> {
    const { context, consumer, config } = this.options;
    const read = { stream: context.keys.stream, group: context.group, consumer, count: config.readCount, blockMs: config.blockMs };
    let failures = 0;
    this.logger.info({ blockMs: config.blockMs, readCount: config.readCount }, 'worker started');
    while (!this.isClosing) {
      try {
        const entries = await readGroupWithin(await this.blockingConnection(), read, config.blockMs + READ_GRACE_MS);
        this.count(await processEntries(context, consumer, entries));
        failures = 0;
      } catch (error) {
        if (this.isClosing) break;
        this.countRedisError(error, 'read');
        if (isConnectionError(error)) this.logger.debug({ err: error }, 'redis unreachable; retrying');
        else this.logger.error({ err: error }, 'batch failed; its entries stay pending');
        await this.pause(retryDelayMs(failures++));
      }
    }
  }

  /** The connection for blocking reads; a new one once the read deadline has destroyed the last. */
  private async blockingConnection(): Promise<RedisClient> {
    if (this.blockingClient?.isOpen) return this.blockingClient;
    if (this.blockingClient) this.logger.warn('a blocking read went unanswered; reading on a new connection');
    const { context, consumer, config } = this.options;
    // Set before connecting, so that close() can destroy it while it is still connecting.
    this.blockingClient = createRedisClient(config.redisUrl, { name: `worker:${consumer}:blocking`, logger: context.logger });
    await this.blockingClient.connect();
    return this.blockingClient;
  }

  /** Runs `step` every `intervalMs` until closed; a failed step is logged and tried again next time. */
  private async repeat(intervalMs: number, name: string, step: () => Promise<void>): Promise<void> {
    while (!this.isClosing) {
      await this.pause(intervalMs);
      if (this.isClosing) break;
      try {
        await step();
      } catch (error) {
        if (this.isClosing) break;
        this.countRedisError(error, name);
        if (isConnectionError(error)) this.logger.debug({ err: error }, `${name}: redis unreachable`);
        else this.logger.warn({ err: error }, `${name} failed`);
      }
    }
  }

  private async reclaim(): Promise<void> {
    const { context, consumer, config } = this.options;
    const claimed = await reclaimIdleEntries(context.client, {
      stream: context.keys.stream,
      group: context.group,
      consumer,
      minIdleMs: config.reclaimIdleMs,
      cursor: this.reclaimCursor,
      count: config.readCount,
    });
    this.reclaimCursor = claimed.cursor;
    if (claimed.deleted.length > 0) {
      this.logger.warn({ ids: claimed.deleted }, 'pending entries no longer in the stream; Redis dropped them from the pending list');
    }
    if (claimed.entries.length === 0) return;
    this.logger.info({ reclaimed: claimed.entries.length }, 'reclaimed idle entries');
    this.counted = { ...this.counted, reclaimed: this.counted.reclaimed + claimed.entries.length };
    context.metrics.reclaimed.inc(claimed.entries.length);
    this.count(await processEntries(context, consumer, claimed.entries));
  }

  private async maintain(): Promise<void> {
    const { context, consumer, config } = this.options;
    const { client, keys, group } = context;
    const trimmed = await trimStream(client, {
      stream: keys.stream,
      group,
      retainProcessedCount: config.retainProcessedCount,
      retainProcessedMs: config.retainProcessedMs,
    });
    if (trimmed.removed > 0) this.logger.debug(trimmed, 'stream trimmed');
    const removed = await removeIdleConsumers(client, { stream: keys.stream, group, idleMs: config.consumerIdleMs, self: consumer });
    if (removed.length > 0) this.logger.info({ removed }, 'removed idle consumers without pending entries');
  }

  private count(outcome: ProcessOutcome): void {
    const { read, processed, deadLettered, acked, reclaimed } = this.counted;
    this.counted = {
      read: read + outcome.read,
      processed: processed + outcome.processed,
      deadLettered: deadLettered + outcome.deadLettered,
      acked: acked + outcome.acked,
      reclaimed,
    };
  }

  private countRedisError(error: unknown, operation: string): void {
    if (isRedisError(error)) this.options.context.metrics.service.redisErrors.inc({ operation });
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
