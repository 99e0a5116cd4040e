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
  constructor(readonly policy: string) {
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
 * Reads maxmemory-policy and persistence from INFO (INFO, unlike CONFIG GET, is open on managed
 * Redis and routes on a cluster). An evicting policy is logged as an error naming what can be
 * lost; with `refuseEviction` an allkeys-* policy throws UnsafeRedisError. Where INFO is refused
 * it says so once and goes on. Answers `unreachable` while Redis cannot be asked at all.
 */
async function readRedisSettings(
  client: RedisClient,
  { refuseEviction, keys }: Pick<PipelineConfig, 'refuseEviction' | 'keys'>,
  logger: Logger,
): Promise<RedisSettings | 'unreachable'> {
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
    if (isTransientRedisError(error)) return 'unreachable';
    logger.warn(
      { err: error },
      'redis refuses INFO, so maxmemory-policy cannot be checked; make sure it is noeviction',
    );
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

/**
 * Checks the settings once, as readRedisSettings does; while Redis is not reachable it says so and
 * answers `unknown`. For a service that only starts once Redis answers; the others use RedisSettingsWatch.
 */
export async function checkRedisSettings(
  client: RedisClient,
  config: Pick<PipelineConfig, 'refuseEviction' | 'keys'>,
  logger: Logger,
): Promise<RedisSettings> {
  const found = await readRedisSettings(client, config, logger);
  if (found !== 'unreachable') return found;
  logger.warn('redis settings not checked: redis is not reachable; make sure maxmemory-policy is noeviction');
  return UNKNOWN_REDIS_SETTINGS;
}

/** How often a service that started before its Redis was reachable asks again. */
export const SETTINGS_RETRY_MS = 1_000;

/**
 * The Redis settings of a running service, checked at start-up and, when Redis was not reachable
 * then, as soon as it is: a service started before its Redis (an orchestrator starts both at once)
 * would otherwise never look. Reads as the last answer (`unknown` until one came), so a metric
 * built on it follows. A policy found unsafe after start-up cannot stop the start any more: it
 * sets `refusal`, which keeps readiness at 503 until the service is restarted on a safe Redis.
 */
export class RedisSettingsWatch implements RedisSettings {
  private current: RedisSettings = UNKNOWN_REDIS_SETTINGS;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set once a check after start-up found a policy this service must refuse. */
  refusal: UnsafeRedisError | undefined;

  private constructor(
    private readonly client: RedisClient,
    private readonly check: () => Promise<RedisSettings | 'unreachable'>,
    private readonly logger: Logger,
    private readonly retryMs: number,
  ) {}

  /** Checks now (an UnsafeRedisError rejects, refusing the start) and, while unreachable, again every `retryMs`. */
  static async start(
    client: RedisClient,
    config: Pick<PipelineConfig, 'refuseEviction' | 'keys'>,
    logger: Logger,
    retryMs = SETTINGS_RETRY_MS,
  ): Promise<RedisSettingsWatch> {
    const watch = new RedisSettingsWatch(client, () => readRedisSettings(client, config, logger), logger, retryMs);
    const found = await watch.check();
    if (found === 'unreachable') {
      logger.warn('redis settings not checked: redis is not reachable yet; checking them once it is');
      watch.retry();
    } else watch.current = found;
    return watch;
  }

  get policy(): string {
    return this.current.policy;
  }

  get risk(): RedisSettings['risk'] {
    return this.current.risk;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private retry(): void {
    this.timer = setTimeout(() => void this.checkAgain(), this.retryMs);
    // A service stopping without stop() must not be held up by the next look.
    this.timer.unref();
  }

  private async checkAgain(): Promise<void> {
    // A client closed for good (a start that failed later on, without stop()) will never answer.
    if (!this.client.isOpen) return;
    try {
      const found = await this.check();
      if (this.stopped) return;
      if (found === 'unreachable') this.retry();
      else this.current = found;
    } catch (error) {
      if (!(error instanceof UnsafeRedisError)) {
        this.logger.error({ err: error }, 'redis settings check failed');
        return;
      }
      this.current = { policy: error.policy, risk: 'any-key' };
      this.refusal = error;
      this.logger.error(
        { err: error },
        'redis is unsafe, found after start-up: /readyz answers 503 until this service restarts on a safe redis',
      );
    }
  }
}
