import {
  ConfigError,
  readChoice,
  readHttpLimits,
  loadPipelineConfig,
  readBoolean,
  readFraction,
  readInteger,
  readString,
  type AccessKeyConfig,
  type Env,
  type PipelineConfig,
  type RateLimit,
} from '@redis-ingest/redis-schema';
import type { HttpServerLimits } from '@redis-ingest/service-kit';
import type { LineMapping } from './line-events';

export interface IngestConfig extends PipelineConfig {
  readonly port: number;
  readonly host: string;
  readonly bodyLimitBytes: number;
  /** How long one Redis command may take before the request answers 503. */
  readonly redisTimeoutMs: number;
  /**
   * Redis commands one process may have awaiting replies; requests past it answer 503 at once
   * instead of queueing until they time out, so a burst is shed and the process recovers with it.
   */
  readonly maxInFlight: number;
  readonly maxBatch: number;
  /**
   * Lag plus pending of the consumer group on one stream partition at which events for that partition
   * are refused (503); each partition has this limit of its own. 0 disables the check.
   */
  readonly maxBacklog: number;
  /**
   * Share of Redis' maxmemory above which events are refused (503), so the workers keep the rest to
   * write series and dead letters and bring memory down again; 0 disables the check.
   */
  readonly maxMemoryRatio: number;
  readonly idempotencyWindowMs: number;
  /**
   * Replicas that must have an appended entry before a 2xx; 0 answers once the primary has it. On a
   * cluster it counts the replicas of each written partition's primary.
   */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** Processes sharing the port (node:cluster); 1 runs in this process alone. */
  readonly processes: number;
  readonly accessKeys: AccessKeyConfig;
  /** Refuse requests without a valid device key even while none exists; else that holds once one does. */
  readonly authRequired: boolean;
  /** How long a looked-up device key is trusted: a revoked key keeps working at most this long. */
  readonly authCacheMs: number;
  /** Per device key (per source without keys); undefined when off. */
  readonly rateLimit: RateLimit | undefined;
  readonly http: HttpServerLimits;
  /** How long /readyz answers 503 before a stopping process closes its listener. */
  readonly stopDelayMs: number;
  /** How Influx line protocol points become events. */
  readonly lineMapping: LineMapping;
  /** Events one line-protocol request may carry: a point makes one per field, so lines alone do not bound it. */
  readonly lineMaxEvents: number;
}

function readAuthRequired(env: Env): boolean {
  const production = readString(env, 'NODE_ENV', 'development') === 'production';
  const required = readBoolean(env, 'INGEST_AUTH_REQUIRED', production);
  // An open ingest in production must be a mistake someone can see, not a default.
  if (production && !required) {
    throw new ConfigError(
      'INGEST_AUTH_REQUIRED',
      'false is refused with NODE_ENV=production: ingest would accept events from anyone',
    );
  }
  return required;
}

function readRateLimit(env: Env): RateLimit | undefined {
  const eventsPerSecond = readInteger(env, 'INGEST_RATE_LIMIT_EVENTS_PER_SECOND', 0, { max: 10_000_000 });
  const burst = readInteger(env, 'INGEST_RATE_LIMIT_BURST', Math.max(eventsPerSecond, 1), { min: 1, max: 100_000_000 });
  return eventsPerSecond === 0 ? undefined : { eventsPerSecond, burst };
}

export function loadIngestConfig(env: Env): IngestConfig {
  const config: IngestConfig = {
    ...loadPipelineConfig(env),
    port: readInteger(env, 'INGEST_API_PORT', 8080, { max: 65_535 }),
    host: readString(env, 'INGEST_API_HOST', '0.0.0.0'),
    bodyLimitBytes: readInteger(env, 'INGEST_BODY_LIMIT_BYTES', 1_048_576, { min: 1_024, max: 64 * 1_048_576 }),
    redisTimeoutMs: readInteger(env, 'INGEST_REDIS_TIMEOUT_MS', 1_000, { min: 10, max: 60_000 }),
    maxInFlight: readInteger(env, 'INGEST_MAX_IN_FLIGHT', 1_024, { min: 1, max: 1_000_000 }),
    maxBatch: readInteger(env, 'INGEST_MAX_BATCH', 1_000, { min: 1, max: 100_000 }),
    maxBacklog: readInteger(env, 'INGEST_MAX_BACKLOG', 1_000_000),
    maxMemoryRatio: readFraction(env, 'INGEST_MAX_MEMORY_RATIO', 0.9),
    idempotencyWindowMs: readInteger(env, 'INGEST_IDEMPOTENCY_WINDOW_MS', 600_000, { min: 1 }),
    waitReplicas: readInteger(env, 'INGEST_WAIT_REPLICAS', 0, { max: 100 }),
    waitTimeoutMs: readInteger(env, 'INGEST_WAIT_TIMEOUT_MS', 500, { min: 1, max: 60_000 }),
    processes: readInteger(env, 'INGEST_API_PROCESSES', 1, { min: 1, max: 64 }),
    accessKeys: {
      deviceKeysKey: readString(env, 'INGEST_AUTH_KEY', 'telemetry:auth:device-keys'),
      rateLimitPrefix: readString(env, 'INGEST_RATE_LIMIT_PREFIX', 'telemetry:rate-limit'),
    },
    authRequired: readAuthRequired(env),
    authCacheMs: readInteger(env, 'INGEST_AUTH_CACHE_MS', 5_000, { max: 300_000 }),
    rateLimit: readRateLimit(env),
    http: readHttpLimits(env, 'INGEST'),
    stopDelayMs: readInteger(env, 'INGEST_STOP_DELAY_MS', 0, { max: 120_000 }),
    lineMapping: {
      sourceTag: readString(env, 'INGEST_LINE_SOURCE_TAG', 'source'),
      fallbackSourceTag: readString(env, 'INGEST_LINE_FALLBACK_SOURCE_TAG', 'host'),
      otherTags: readChoice(env, 'INGEST_LINE_OTHER_TAGS', ['metric', 'refuse'], 'metric'),
    },
    lineMaxEvents: readInteger(env, 'INGEST_LINE_MAX_EVENTS', 10_000, { min: 1, max: 100_000 }),
  };
  // WAIT runs under the command timeout; a longer wait would always end in a timeout instead of an answer.
  if (config.waitReplicas > 0 && config.waitTimeoutMs >= config.redisTimeoutMs) {
    throw new ConfigError('INGEST_WAIT_TIMEOUT_MS', `must be below INGEST_REDIS_TIMEOUT_MS (${config.redisTimeoutMs})`);
  }
  return config;
}
