import { readFileSync } from 'node:fs';
import {
  ConfigError,
  readBoolean,
  readChoice,
  readInteger,
  readOptionalString,
  readString,
  readUrl,
  type Env,
} from './env';
import { MAX_STREAM_PARTITIONS, type KeyConfig } from './keys';
import type { RedisTarget, RedisTlsFiles } from './redis-client';
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
  if (nodes === undefined) {
    const url = readUrl(env, 'REDIS_URL', 'redis://localhost:6379', REDIS_PROTOCOLS);
    return withTls({ url }, readRedisTlsFiles(env, url, 'REDIS_URL'));
  }
  const clusterNodes = nodes
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  if (clusterNodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES', 'expected at least one redis:// URL');
  for (const node of clusterNodes) readUrl({ REDIS_CLUSTER_NODES: node }, 'REDIS_CLUSTER_NODES', node, REDIS_PROTOCOLS);
  // The nodes a seed reveals are reached by address alone, with the seeds' scheme, user and password.
  const access = new Set(
    clusterNodes.map((node) => {
      const { protocol, username, password } = new URL(node);
      return `${protocol}${username}:${password}`;
    }),
  );
  if (access.size > 1) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'every seed must use the same scheme (redis:// or rediss://), user and password',
    );
  }
  return withTls({ clusterNodes }, readRedisTlsFiles(env, clusterNodes[0]!, 'REDIS_CLUSTER_NODES'));
}

function withTls<T extends object>(target: T, tls: RedisTlsFiles | undefined): T & { tls?: RedisTlsFiles } {
  return tls === undefined ? target : { ...target, tls };
}

/** A PEM file for rediss:// connections, read once at start-up so a wrong path stops the service with its name. */
function readTlsFile(env: Env, name: string, url: string, urlVariable: string): string | undefined {
  const path = readOptionalString(env, name);
  if (path === undefined) return undefined;
  if (new URL(url).protocol !== 'rediss:')
    throw new ConfigError(name, `takes effect only with rediss:// in ${urlVariable}`);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      name,
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/**
 * REDIS_TLS_CA_FILE, a CA the server's certificate chains to (instead of the system's), and
 * REDIS_TLS_CERT_FILE with REDIS_TLS_KEY_FILE, a client certificate for servers with tls-auth-clients.
 */
function readRedisTlsFiles(env: Env, url: string, urlVariable: string): RedisTlsFiles | undefined {
  const files = {
    ca: readTlsFile(env, 'REDIS_TLS_CA_FILE', url, urlVariable),
    cert: readTlsFile(env, 'REDIS_TLS_CERT_FILE', url, urlVariable),
    key: readTlsFile(env, 'REDIS_TLS_KEY_FILE', url, urlVariable),
  };
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new ConfigError(
      files.cert === undefined ? 'REDIS_TLS_CERT_FILE' : 'REDIS_TLS_KEY_FILE',
      'a client certificate needs both REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE',
    );
  }
  const given = Object.entries(files).filter(([, pem]) => pem !== undefined);
  return given.length === 0 ? undefined : Object.fromEntries(given);
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
    refuseEviction:
      readString(env, 'NODE_ENV', 'development') === 'production' && !readBoolean(env, 'INGEST_ALLOW_EVICTION', false),
  };
}
