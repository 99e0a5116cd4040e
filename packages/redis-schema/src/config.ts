import { ConfigError, readChoice, readInteger, readString, readUrl, type Env } from './env';
import type { KeyConfig } from './keys';
import { parseRollupTiers, type RollupTier } from './rollup/tiers';

export const ROLLUP_BACKENDS = ['auto', 'native', 'timeseries'] as const;
export type RollupBackendChoice = (typeof ROLLUP_BACKENDS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What every service reads: where Redis is, which keys, and how series are stored. */
export interface PipelineConfig {
  readonly redisUrl: string;
  readonly keys: KeyConfig;
  readonly consumerGroup: string;
  readonly rollupBackend: RollupBackendChoice;
  readonly rawRetentionMs: number;
  readonly rollupTiers: readonly RollupTier[];
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

const DAY_MS = 86_400_000;

export function loadPipelineConfig(env: Env): PipelineConfig {
  const bucketMs = readInteger(env, 'INGEST_ROLLUP_BUCKET_MS', 60_000, { min: 1 });
  const rollupRetentionMs = readInteger(env, 'INGEST_ROLLUP_RETENTION_MS', 30 * DAY_MS);
  const tiersText = readString(env, 'INGEST_ROLLUPS', `${bucketMs}:avg`);
  let rollupTiers: RollupTier[];
  try {
    rollupTiers = parseRollupTiers(tiersText, rollupRetentionMs);
  } catch (error) {
    throw new ConfigError('INGEST_ROLLUPS', (error as Error).message);
  }
  return {
    redisUrl: readUrl(env, 'REDIS_URL', 'redis://localhost:6379', ['redis:', 'rediss:']),
    keys: {
      streamKey: readString(env, 'INGEST_STREAM_KEY', 'telemetry:events'),
      deadLetterKey: readString(env, 'INGEST_DEAD_LETTER_KEY', 'telemetry:events:dead-letter'),
      metricsKey: readString(env, 'INGEST_METRICS_KEY', 'telemetry:metrics'),
      seriesPrefix: readString(env, 'INGEST_SERIES_PREFIX', 'telemetry:series'),
    },
    consumerGroup: readString(env, 'INGEST_CONSUMER_GROUP', 'telemetry-workers'),
    rollupBackend: readChoice(env, 'INGEST_ROLLUP_BACKEND', ROLLUP_BACKENDS, 'auto'),
    rawRetentionMs: readInteger(env, 'INGEST_RAW_RETENTION_MS', 7 * DAY_MS),
    rollupTiers,
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}
