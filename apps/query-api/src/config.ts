import {
  readHttpLimits,
  MAX_REDUCED_SOURCES,
  loadPipelineConfig,
  readAccessToken,
  readInteger,
  readString,
  type Env,
  type PipelineConfig,
} from '@redis-ingest/redis-schema';
import type { HttpServerLimits } from '@redis-ingest/service-kit';

export interface QueryConfig extends PipelineConfig {
  readonly port: number;
  readonly host: string;
  /** The most series one summary page may list. */
  readonly maxSeriesPage: number;
  /** The most stream entries one listing (recent events, dead letters) may return. */
  readonly maxRecent: number;
  /** The most points one range may return, and the most buckets its width may span. */
  readonly maxPoints: number;
  /** The most series a metric may have for a range reduced across its sources. */
  readonly maxSources: number;
  /** How long one Redis command may take before the request answers 503. */
  readonly redisTimeoutMs: number;
  /** Opens the read routes; unset, they are open to anyone. */
  readonly readToken: string | undefined;
  /** Opens everything, dead-letter replay and delete included; unset, those need what reads need. */
  readonly adminToken: string | undefined;
  readonly http: HttpServerLimits;
  /** How long /readyz answers 503 before a stopping process closes its listener. */
  readonly stopDelayMs: number;
}

/** Responses are built in memory, so both limits are capped well below what would hurt. */
const LIMIT_CEILING = 1_000;

export function loadQueryConfig(env: Env): QueryConfig {
  const production = readString(env, 'NODE_ENV', 'development') === 'production';
  return {
    ...loadPipelineConfig(env),
    port: readInteger(env, 'QUERY_API_PORT', 8081, { max: 65_535 }),
    host: readString(env, 'QUERY_API_HOST', '0.0.0.0'),
    maxSeriesPage: readInteger(env, 'QUERY_MAX_SERIES_PAGE', 100, { min: 1, max: LIMIT_CEILING }),
    maxRecent: readInteger(env, 'QUERY_MAX_RECENT', 100, { min: 1, max: LIMIT_CEILING }),
    maxPoints: readInteger(env, 'QUERY_MAX_POINTS', 10_000, { min: 1, max: 100_000 }),
    // Every source is read in turn on a backend without a server-side reduction.
    maxSources: readInteger(env, 'QUERY_MAX_SOURCES', MAX_REDUCED_SOURCES, { min: 1, max: 100_000 }),
    redisTimeoutMs: readInteger(env, 'QUERY_REDIS_TIMEOUT_MS', 1_000, { min: 10, max: 60_000 }),
    readToken: readAccessToken(env, 'QUERY_READ_TOKEN', production),
    adminToken: readAccessToken(env, 'QUERY_ADMIN_TOKEN', production),
    http: readHttpLimits(env, 'QUERY'),
    stopDelayMs: readInteger(env, 'QUERY_STOP_DELAY_MS', 0, { max: 120_000 }),
  };
}
