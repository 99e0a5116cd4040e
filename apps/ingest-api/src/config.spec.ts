import { ConfigError } from '@redis-ingest/redis-schema';
import { loadIngestConfig } from './config';

describe('loadIngestConfig', () => {
  it('uses the documented defaults', () => {
    const config = loadIngestConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      bodyLimitBytes: 1_048_576,
      redisTimeoutMs: 1_000,
      maxBatch: 1_000,
      maxBacklog: 1_000_000,
      idempotencyWindowMs: 600_000,
      processes: 1,
      waitReplicas: 0,
      waitTimeoutMs: 500,
      redis: { url: 'redis://localhost:6379' },
      keys: {
        streamKey: 'telemetry:events',
        deadLetterKey: 'telemetry:events:dead-letter',
        metricsKey: 'telemetry:metrics',
        seriesPrefix: 'telemetry:series',
      },
      consumerGroup: 'telemetry-workers',
      rollupBackend: 'auto',
      rollupTiers: [{ aggregation: 'avg', bucketMs: 60_000, retentionMs: 30 * 86_400_000 }],
    });
  });

  it('runs open with no rate limit by default, and bounds what a client may hold', () => {
    expect(loadIngestConfig({})).toMatchObject({
      accessKeys: { deviceKeysKey: 'telemetry:auth:device-keys', rateLimitPrefix: 'telemetry:rate-limit' },
      authRequired: false,
      authCacheMs: 5_000,
      rateLimit: undefined,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxHeaderBytes: 16_384 },
      stopDelayMs: 0,
    });
  });

  it('requires device keys in production, and refuses to be told otherwise there', () => {
    expect(loadIngestConfig({ NODE_ENV: 'production' }).authRequired).toBe(true);
    expect(loadIngestConfig({ INGEST_AUTH_REQUIRED: 'true' }).authRequired).toBe(true);
    expect(() => loadIngestConfig({ NODE_ENV: 'production', INGEST_AUTH_REQUIRED: 'false' })).toThrow(
      /^INGEST_AUTH_REQUIRED: .*NODE_ENV=production/,
    );
  });

  it('gives the rate limit one second of burst unless told', () => {
    expect(loadIngestConfig({ INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '50' }).rateLimit).toEqual({
      eventsPerSecond: 50,
      burst: 50,
    });
    expect(
      loadIngestConfig({ INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '50', INGEST_RATE_LIMIT_BURST: '500' }).rateLimit,
    ).toEqual({
      eventsPerSecond: 50,
      burst: 500,
    });
  });

  it('refuses a request timeout shorter than the head timeout', () => {
    expect(() => loadIngestConfig({ INGEST_HEADERS_TIMEOUT_MS: '5000', INGEST_REQUEST_TIMEOUT_MS: '4000' })).toThrow(
      /^INGEST_REQUEST_TIMEOUT_MS: /,
    );
  });

  it('reads the tutorial variables', () => {
    const config = loadIngestConfig({
      INGEST_STREAM_KEY: 'a',
      INGEST_ROLLUP_BUCKET_MS: '5000',
      INGEST_API_PORT: '9000',
    });
    expect(config.keys.streamKey).toBe('a');
    expect(config.rollupTiers[0]?.bucketMs).toBe(5_000);
    expect(config.port).toBe(9_000);
  });

  it('refuses a replica wait that the command timeout would always cut short', () => {
    expect(() => loadIngestConfig({ INGEST_WAIT_REPLICAS: '1', INGEST_WAIT_TIMEOUT_MS: '1000' })).toThrow(
      /^INGEST_WAIT_TIMEOUT_MS: /,
    );
    expect(loadIngestConfig({ INGEST_WAIT_REPLICAS: '1', INGEST_WAIT_TIMEOUT_MS: '999' }).waitReplicas).toBe(1);
  });

  it.each([
    ['INGEST_WAIT_REPLICAS', 'two'],
    ['INGEST_API_PORT', '80a'],
    ['INGEST_API_PORT', '70000'],
    ['INGEST_BODY_LIMIT_BYTES', '10'],
    ['INGEST_REDIS_TIMEOUT_MS', '-1'],
    ['INGEST_MAX_BATCH', '0'],
    ['INGEST_MAX_BACKLOG', 'lots'],
    ['INGEST_IDEMPOTENCY_WINDOW_MS', '0'],
    ['INGEST_API_PROCESSES', '0'],
    ['INGEST_AUTH_REQUIRED', 'maybe'],
    ['INGEST_AUTH_CACHE_MS', '-5'],
    ['INGEST_RATE_LIMIT_EVENTS_PER_SECOND', '1.5'],
    ['INGEST_RATE_LIMIT_BURST', '0'],
    ['INGEST_HEADERS_TIMEOUT_MS', '10'],
    ['INGEST_MAX_HEADER_BYTES', '100'],
    ['INGEST_KEEP_ALIVE_TIMEOUT_MS', 'long'],
    ['INGEST_STOP_DELAY_MS', '999999'],
    ['INGEST_ROLLUP_BUCKET_MS', '0'],
    ['INGEST_ROLLUP_BACKEND', 'postgres'],
    ['INGEST_ROLLUPS', '1m:median'],
    ['REDIS_URL', 'http://localhost'],
    ['LOG_LEVEL', 'loud'],
  ])('stops on a bad %s and names it', (variable, value) => {
    expect(() => loadIngestConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}: `));
  });
});
