import {
  ConfigError,
  isValidName,
  loadPipelineConfig,
  readInteger,
  readOptionalString,
  type Env,
  type PipelineConfig,
} from '@redis-ingest/redis-schema';

export interface WorkerConfig extends PipelineConfig {
  /** Most entries one XREADGROUP returns, and so one batch written to the store. */
  readonly readCount: number;
  /** How long one XREADGROUP waits for new entries. */
  readonly blockMs: number;
  /** A fixed consumer name; unset, each process makes up its own. */
  readonly consumerName: string | undefined;
  readonly adminPort: number;
}

/**
 * BLOCK 0 would wait forever, and a long block also delays noticing a connection that died without
 * closing; the cap keeps both within a few seconds.
 */
export const MAX_BLOCK_MS = 30_000;

export function loadWorkerConfig(env: Env): WorkerConfig {
  const consumerName = readOptionalString(env, 'WORKER_CONSUMER_NAME');
  if (consumerName !== undefined && !isValidName(consumerName)) {
    throw new ConfigError('WORKER_CONSUMER_NAME', `expected letters, digits, "_", "." or "-" (at most 128), got "${consumerName}"`);
  }
  return {
    ...loadPipelineConfig(env),
    readCount: readInteger(env, 'WORKER_READ_COUNT', 100, { min: 1, max: 10_000 }),
    blockMs: readInteger(env, 'WORKER_BLOCK_MS', 2_000, { min: 1, max: MAX_BLOCK_MS }),
    consumerName,
    adminPort: readInteger(env, 'WORKER_ADMIN_PORT', 8082, { max: 65_535 }),
  };
}
