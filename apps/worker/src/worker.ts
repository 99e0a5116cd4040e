import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisClient, isConnectionError, type RedisClient } from '@redis-ingest/redis-schema';
import type { Logger } from '@redis-ingest/service-kit';
import { readAndProcess, type ProcessOutcome, type ProcessingContext } from './process-entries';

export interface WorkerOptions {
  readonly context: ProcessingContext;
  /** The blocking reads get a connection of their own to this URL. */
  readonly redisUrl: string;
  readonly consumer: string;
  readonly readCount: number;
  readonly blockMs: number;
}

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** How long past its BLOCK a read may stay unanswered before the connection counts as dead. */
const READ_GRACE_MS = 5_000;

/** Capped exponential backoff after `failures` consecutive failed steps. */
function retryDelayMs(failures: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.min(failures, 16), RETRY_MAX_MS);
}

/**
 * The consumer daemon: reads new entries of the group in batches and processes them until closed.
 * `run()` resolves once the loop has stopped; `close()` stops it after the batch in hand is acked.
 */
export class Worker {
  private readonly logger: Logger;
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private blockingClient: RedisClient | undefined;
  private counted: ProcessOutcome = { read: 0, processed: 0, deadLettered: 0, acked: 0 };

  constructor(private readonly options: WorkerOptions) {
    this.logger = options.context.logger.child({ consumer: options.consumer });
  }

  /** What this worker has done since it started. */
  get totals(): ProcessOutcome {
    return this.counted;
  }

  run(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('Worker is closed'));
    if (this.running) return Promise.reject(new Error('Worker is already running'));
    this.running = this.mainLoop();
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
      this.blockingClient?.destroy();
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

  private async mainLoop(): Promise<void> {
    const { context, redisUrl, consumer, readCount, blockMs } = this.options;
    const blocking = createRedisClient(redisUrl, { name: `worker:${consumer}:blocking`, logger: this.logger });
    this.blockingClient = blocking;
    const drain = { consumer, count: readCount, blockMs, timeoutMs: blockMs + READ_GRACE_MS };
    let failures = 0;
    this.logger.info({ blockMs, readCount }, 'worker started');
    try {
      await blocking.connect();
    } catch (error) {
      if (!this.isClosing) throw error;
    }
    while (!this.isClosing) {
      try {
        const outcome = await readAndProcess(context, blocking, drain);
        this.count(outcome);
        failures = 0;
      } catch (error) {
        if (this.isClosing) break;
        if (isConnectionError(error)) this.logger.debug({ err: error }, 'redis unreachable; retrying');
        else this.logger.error({ err: error }, 'batch failed; its entries stay pending');
        await this.pause(retryDelayMs(failures++));
      }
    }
  }

  private count(outcome: ProcessOutcome): void {
    const { read, processed, deadLettered, acked } = this.counted;
    this.counted = {
      read: read + outcome.read,
      processed: processed + outcome.processed,
      deadLettered: deadLettered + outcome.deadLettered,
      acked: acked + outcome.acked,
    };
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
