import {
  ConfigError,
  isValidName,
  loadPipelineConfig,
  readAccessToken,
  readInteger,
  readOptionalString,
  readString,
  type Env,
  type PipelineConfig,
} from '@redis-ingest/redis-schema';

export interface WorkerConfig extends PipelineConfig {
  /** Most entries one XREADGROUP returns, and so one batch written to the store; also one reclaim's COUNT. */
  readonly readCount: number;
  /** How long one XREADGROUP waits for new entries. */
  readonly blockMs: number;
  /** A fixed consumer name; unset, each process makes up its own. */
  readonly consumerName: string | undefined;
  readonly adminPort: number;
  /** Opens the admin port's drain route; unset, anyone who reaches the port may drain. */
  readonly adminToken: string | undefined;
  /** How long /readyz answers 503 before a stopping worker stops reading and closes its admin port. */
  readonly stopDelayMs: number;
  /** How often the reclaim loop looks for entries another consumer took and never acked. */
  readonly reclaimIntervalMs: number;
  /** How long an entry must have been pending, unacked, before another consumer takes it over. */
  readonly reclaimIdleMs: number;
  /** Deliveries an entry may have; one delivered more often is dead-lettered unprocessed. */
  readonly maxDeliveries: number;
  /** How often the stream is trimmed and idle consumers are removed. */
  readonly maintenanceIntervalMs: number;
  /** A consumer idle this long and holding no pending entries is removed from the group. */
  readonly consumerIdleMs: number;
  /** Processed entries kept for the recent-events view, by count and by age; either keeps an entry. */
  readonly retainProcessedCount: number;
  readonly retainProcessedMs: number;
  /** Approximate length the dead-letter stream is capped at. */
  readonly deadLetterMaxLen: number;
}

/**
 * BLOCK 0 would wait forever, and a long block also delays noticing a connection that died without
 * closing; the cap keeps both within a few seconds.
 */
export const MAX_BLOCK_MS = 30_000;

const HOUR_MS = 3_600_000;

export function loadWorkerConfig(env: Env): WorkerConfig {
  const production = readString(env, 'NODE_ENV', 'development') === 'production';
  const consumerName = readOptionalString(env, 'WORKER_CONSUMER_NAME');
  if (consumerName !== undefined && !isValidName(consumerName)) {
    throw new ConfigError(
      'WORKER_CONSUMER_NAME',
      `expected letters, digits, "_", "." or "-" (at most 128), got "${consumerName}"`,
    );
  }
  return {
    ...loadPipelineConfig(env),
    readCount: readInteger(env, 'WORKER_READ_COUNT', 1_000, { min: 1, max: 10_000 }),
    blockMs: readInteger(env, 'WORKER_BLOCK_MS', 2_000, { min: 1, max: MAX_BLOCK_MS }),
    consumerName,
    adminPort: readInteger(env, 'WORKER_ADMIN_PORT', 8082, { max: 65_535 }),
    adminToken: readAccessToken(env, 'WORKER_ADMIN_TOKEN', production),
    stopDelayMs: readInteger(env, 'WORKER_STOP_DELAY_MS', 0, { max: 120_000 }),
    reclaimIntervalMs: readInteger(env, 'WORKER_RECLAIM_INTERVAL_MS', 5_000, { min: 10 }),
    reclaimIdleMs: readInteger(env, 'WORKER_RECLAIM_IDLE_MS', 30_000, { min: 1 }),
    maxDeliveries: readInteger(env, 'INGEST_MAX_DELIVERIES', 5, { min: 1 }),
    maintenanceIntervalMs: readInteger(env, 'WORKER_MAINTENANCE_INTERVAL_MS', 10_000, { min: 10 }),
    consumerIdleMs: readInteger(env, 'WORKER_CONSUMER_IDLE_MS', HOUR_MS, { min: 1 }),
    retainProcessedCount: readInteger(env, 'INGEST_RETAIN_PROCESSED_COUNT', 10_000),
    retainProcessedMs: readInteger(env, 'INGEST_RETAIN_PROCESSED_MS', HOUR_MS),
    deadLetterMaxLen: readInteger(env, 'INGEST_DEAD_LETTER_MAXLEN', 100_000, { min: 1 }),
  };
}
