import { ConfigError, loadPipelineConfig, readInteger, readString, type Env, type PipelineConfig } from '@redis-ingest/redis-schema';

export interface IngestConfig extends PipelineConfig {
  readonly port: number;
  readonly host: string;
  readonly bodyLimitBytes: number;
  /** How long one Redis command may take before the request answers 503. */
  readonly redisTimeoutMs: number;
  readonly maxBatch: number;
  /** Lag plus pending of the consumer group at which ingest answers 503; 0 disables the check. */
  readonly maxBacklog: number;
  readonly idempotencyWindowMs: number;
  /** Replicas that must have an appended entry before a 2xx; 0 answers once the primary has it. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** Processes sharing the port (node:cluster); 1 runs in this process alone. */
  readonly processes: number;
}

export function loadIngestConfig(env: Env): IngestConfig {
  const config: IngestConfig = {
    ...loadPipelineConfig(env),
    port: readInteger(env, 'INGEST_API_PORT', 8080, { max: 65_535 }),
    host: readString(env, 'INGEST_API_HOST', '0.0.0.0'),
    bodyLimitBytes: readInteger(env, 'INGEST_BODY_LIMIT_BYTES', 1_048_576, { min: 1_024, max: 64 * 1_048_576 }),
    redisTimeoutMs: readInteger(env, 'INGEST_REDIS_TIMEOUT_MS', 1_000, { min: 10, max: 60_000 }),
    maxBatch: readInteger(env, 'INGEST_MAX_BATCH', 1_000, { min: 1, max: 100_000 }),
    maxBacklog: readInteger(env, 'INGEST_MAX_BACKLOG', 1_000_000),
    idempotencyWindowMs: readInteger(env, 'INGEST_IDEMPOTENCY_WINDOW_MS', 600_000, { min: 1 }),
    waitReplicas: readInteger(env, 'INGEST_WAIT_REPLICAS', 0, { max: 100 }),
    waitTimeoutMs: readInteger(env, 'INGEST_WAIT_TIMEOUT_MS', 500, { min: 1, max: 60_000 }),
    processes: readInteger(env, 'INGEST_API_PROCESSES', 1, { min: 1, max: 64 }),
  };
  // WAIT runs under the command timeout; a longer wait would always end in a timeout instead of an answer.
  if (config.waitReplicas > 0 && config.waitTimeoutMs >= config.redisTimeoutMs) {
    throw new ConfigError('INGEST_WAIT_TIMEOUT_MS', `must be below INGEST_REDIS_TIMEOUT_MS (${config.redisTimeoutMs})`);
  }
  return config;
}
