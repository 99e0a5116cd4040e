import {
  createKeys,
  evictionRisk,
  isTransientRedisError,
  memoryFromInfo,
  parseInfo,
  type EvictionRisk,
  type PipelineConfig,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import type { Logger } from './logger';

/** The service refuses to start: Redis may delete accepted events, and nobody said that is fine. */
export class UnsafeRedisError extends Error {
  constructor(policy: string) {
    super(
      `Redis runs with maxmemory-policy ${policy}, which may delete the event stream and series under memory pressure; ` +
        'set it to noeviction, or set INGEST_ALLOW_EVICTION=true to start anyway',
    );
    this.name = 'UnsafeRedisError';
  }
}

const WHAT_CAN_BE_LOST: Record<Exclude<EvictionRisk, 'none'>, string> = {
  'any-key':
    'Redis may delete any key when memory is full: the event stream with entries not yet processed, pending entries, ' +
    'series, rollups and device keys, so accepted events can be lost without a trace',
  'keys-with-ttl':
    'Redis may delete keys with a TTL when memory is full: idempotency records (a retried event is then stored twice) ' +
    'and rate-limit buckets',
};

/** What the check found; `unknown` where INFO was refused or Redis was not reachable. */
export interface RedisSettings {
  readonly policy: string;
  readonly risk: EvictionRisk | 'unknown';
}

export const UNKNOWN_REDIS_SETTINGS: RedisSettings = { policy: 'unknown', risk: 'unknown' };

/**
 * Reads maxmemory-policy and persistence from INFO at start-up (INFO, unlike CONFIG GET, is open
 * on managed Redis and routes on a cluster). An evicting policy is logged as an error naming what
 * can be lost; with `refuseEviction` an allkeys-* policy throws UnsafeRedisError. Where INFO is
 * refused it says so once and goes on. ServiceMetrics.evictionRisk exports the answer.
 */
export async function checkRedisSettings(
  client: RedisClient,
  { refuseEviction, keys }: Pick<PipelineConfig, 'refuseEviction' | 'keys'>,
  logger: Logger,
): Promise<RedisSettings> {
  // On a cluster, the node of the first partition's stream speaks for the others, configured alike.
  const key = createKeys(keys).partitions[0]!.stream;
  let memoryInfo: string;
  let persistenceInfo: string;
  try {
    [memoryInfo, persistenceInfo] = (
      await Promise.all([
        client.sendToNodeOf(key, ['INFO', 'memory']),
        client.sendToNodeOf(key, ['INFO', 'persistence']),
      ])
    ).map(String) as [string, string];
  } catch (error) {
    if (isTransientRedisError(error)) {
      logger.warn(
        { err: error },
        'redis settings not checked: redis is not reachable yet; make sure maxmemory-policy is noeviction',
      );
    } else {
      logger.warn(
        { err: error },
        'redis refuses INFO, so maxmemory-policy cannot be checked; make sure it is noeviction',
      );
    }
    return UNKNOWN_REDIS_SETTINGS;
  }
  const { policy, maxBytes } = memoryFromInfo(memoryInfo);
  const risk = evictionRisk(policy);
  const persistence = parseInfo(persistenceInfo);
  const fields = {
    maxmemoryPolicy: policy,
    maxmemoryBytes: maxBytes,
    aofEnabled: persistence.get('aof_enabled') === '1',
  };
  if (risk === 'none') logger.info(fields, 'redis settings checked');
  else
    logger.error(
      fields,
      `${WHAT_CAN_BE_LOST[risk]}. Set maxmemory-policy noeviction (the services answer 503 when Redis is full).`,
    );
  if (persistence.get('rdb_last_bgsave_status') === 'err' || persistence.get('aof_last_write_status') === 'err') {
    logger.warn(
      fields,
      'redis failed its last snapshot or append-only file write: it refuses writes (MISCONF) until one succeeds',
    );
  }
  if (risk === 'any-key' && refuseEviction) throw new UnsafeRedisError(policy);
  return { policy, risk };
}
