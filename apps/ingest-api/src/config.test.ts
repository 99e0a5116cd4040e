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
      redisUrl: 'redis://localhost:6379',
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

  it('reads the tutorial variables', () => {
    const config = loadIngestConfig({ INGEST_STREAM_KEY: 'a', INGEST_ROLLUP_BUCKET_MS: '5000', INGEST_API_PORT: '9000' });
    expect(config.keys.streamKey).toBe('a');
    expect(config.rollupTiers[0]?.bucketMs).toBe(5_000);
    expect(config.port).toBe(9_000);
  });

  it('refuses a replica wait that the command timeout would always cut short', () => {
    expect(() => loadIngestConfig({ INGEST_WAIT_REPLICAS: '1', INGEST_WAIT_TIMEOUT_MS: '1000' })).toThrow(/^INGEST_WAIT_TIMEOUT_MS: /);
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
