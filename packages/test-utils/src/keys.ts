import { randomBytes } from 'node:crypto';
import { loadPipelineConfig, type Env, type PipelineConfig } from '@redis-ingest/redis-schema';

/** Environment variables naming keys no other test uses, so suites can share one Redis. */
export function isolatedEnv(redisUrl: string, overrides: Env = {}): Record<string, string> {
  const prefix = `test:${randomBytes(6).toString('hex')}`;
  const env: Record<string, string | undefined> = {
    REDIS_URL: redisUrl,
    INGEST_STREAM_KEY: `${prefix}:events`,
    INGEST_DEAD_LETTER_KEY: `${prefix}:events:dead-letter`,
    INGEST_METRICS_KEY: `${prefix}:metrics`,
    INGEST_SERIES_PREFIX: `${prefix}:series`,
    INGEST_CONSUMER_GROUP: `${prefix}-workers`,
    INGEST_AUTH_KEY: `${prefix}:auth:device-keys`,
    INGEST_RATE_LIMIT_PREFIX: `${prefix}:rate-limit`,
    LOG_LEVEL: 'silent',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export function isolatedConfig(redisUrl: string, overrides: Env = {}): PipelineConfig {
  return loadPipelineConfig(isolatedEnv(redisUrl, overrides));
}

/** The URL the jest global setup provided. */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is unset: run the suites through jest, whose global setup provides Redis');
  return url;
}
