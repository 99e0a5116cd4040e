import { ConfigError, readBoolean, readChoice, readInteger, readOptionalString, readString, readUrl, type Env } from './env';
import { MAX_STREAM_PARTITIONS, type KeyConfig } from './keys';
import type { RedisTarget } from './redis';
import { parseRollupTiers, type RollupTier } from './rollup/tiers';

export const ROLLUP_BACKENDS = ['auto', 'native', 'timeseries'] as const;
export type RollupBackendChoice = (typeof ROLLUP_BACKENDS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What every service reads: where Redis is, which keys, and how series are stored. */
export interface PipelineConfig {
  /** What createRedisClient connects to: REDIS_CLUSTER_NODES when set, else REDIS_URL. */
  readonly redis: RedisTarget;
  readonly keys: KeyConfig;
  readonly consumerGroup: string;
  readonly rollupBackend: RollupBackendChoice;
  readonly rawRetentionMs: number;
  readonly rollupTiers: readonly RollupTier[];
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /**
   * Refuse to start when Redis' maxmemory-policy may delete any key: NODE_ENV=production unless
   * INGEST_ALLOW_EVICTION=true. Elsewhere such a policy is only logged.
   */
  readonly refuseEviction: boolean;
}

const DAY_MS = 86_400_000;

const REDIS_PROTOCOLS = ['redis:', 'rediss:'];

/**
 * REDIS_CLUSTER_NODES, comma-separated seed URLs of a Redis Cluster, wins over REDIS_URL, which is
 * then ignored: deployments keep one shared environment file whose REDIS_URL may stay behind, and
 * the seeds alone name the cluster (any one of them that answers reveals the rest).
 */
function readRedisTarget(env: Env): RedisTarget {
  const nodes = readOptionalString(env, 'REDIS_CLUSTER_NODES');
  if (nodes === undefined) return { url: readUrl(env, 'REDIS_URL', 'redis://localhost:6379', REDIS_PROTOCOLS) };
  const clusterNodes = nodes
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  if (clusterNodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES', 'expected at least one redis:// URL');
  for (const node of clusterNodes) readUrl({ REDIS_CLUSTER_NODES: node }, 'REDIS_CLUSTER_NODES', node, REDIS_PROTOCOLS);
  return { clusterNodes };
}

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
  const redis = readRedisTarget(env);
  return {
    redis,
    keys: {
      streamKey: readString(env, 'INGEST_STREAM_KEY', 'telemetry:events'),
      deadLetterKey: readString(env, 'INGEST_DEAD_LETTER_KEY', 'telemetry:events:dead-letter'),
      metricsKey: readString(env, 'INGEST_METRICS_KEY', 'telemetry:metrics'),
      seriesPrefix: readString(env, 'INGEST_SERIES_PREFIX', 'telemetry:series'),
      streamPartitions: readInteger(env, 'INGEST_STREAM_PARTITIONS', 1, { min: 1, max: MAX_STREAM_PARTITIONS }),
      cluster: 'clusterNodes' in redis,
    },
    consumerGroup: readString(env, 'INGEST_CONSUMER_GROUP', 'telemetry-workers'),
    rollupBackend: readChoice(env, 'INGEST_ROLLUP_BACKEND', ROLLUP_BACKENDS, 'auto'),
    rawRetentionMs: readInteger(env, 'INGEST_RAW_RETENTION_MS', 7 * DAY_MS),
    rollupTiers,
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    refuseEviction: readString(env, 'NODE_ENV', 'development') === 'production' && !readBoolean(env, 'INGEST_ALLOW_EVICTION', false),
  };
}
