import { ConfigError, LIVE_CONSUMER_IDLE_MS } from '@redis-ingest/redis-schema';
import { MAX_BLOCK_MS, loadWorkerConfig } from './config';

describe('loadWorkerConfig', () => {
  it('uses the documented defaults on top of the pipeline config', () => {
    const config = loadWorkerConfig({});
    expect(config).toMatchObject({
      readCount: 1_000,
      blockMs: 2_000,
      consumerName: undefined,
      adminPort: 8082,
      reclaimIntervalMs: 5_000,
      reclaimIdleMs: 30_000,
      maxDeliveries: 5,
      maintenanceIntervalMs: 10_000,
      consumerIdleMs: 3_600_000,
      retainProcessedCount: 10_000,
      retainProcessedMs: 3_600_000,
      deadLetterMaxLen: 100_000,
      adminToken: undefined,
      stopDelayMs: 0,
      redis: { url: 'redis://localhost:6379' },
      consumerGroup: 'telemetry-workers',
      keys: { streamKey: 'telemetry:events', deadLetterKey: 'telemetry:events:dead-letter' },
    });
  });

  it('reads every worker variable', () => {
    const config = loadWorkerConfig({
      WORKER_READ_COUNT: '250',
      WORKER_BLOCK_MS: '500',
      WORKER_CONSUMER_NAME: 'worker-a.1',
      WORKER_ADMIN_PORT: '0',
      INGEST_CONSUMER_GROUP: 'group-b',
      WORKER_RECLAIM_INTERVAL_MS: '250',
      WORKER_RECLAIM_IDLE_MS: '1000',
      INGEST_MAX_DELIVERIES: '3',
      WORKER_MAINTENANCE_INTERVAL_MS: '2000',
      WORKER_CONSUMER_IDLE_MS: '60000',
      INGEST_RETAIN_PROCESSED_COUNT: '0',
      INGEST_RETAIN_PROCESSED_MS: '0',
      INGEST_DEAD_LETTER_MAXLEN: '500',
      WORKER_ADMIN_TOKEN: 'worker-admin-0123456789',
      WORKER_STOP_DELAY_MS: '2000',
    });
    expect(config).toMatchObject({
      readCount: 250,
      blockMs: 500,
      consumerName: 'worker-a.1',
      adminPort: 0,
      consumerGroup: 'group-b',
      reclaimIntervalMs: 250,
      reclaimIdleMs: 1_000,
      maxDeliveries: 3,
      maintenanceIntervalMs: 2_000,
      consumerIdleMs: 60_000,
      retainProcessedCount: 0,
      retainProcessedMs: 0,
      deadLetterMaxLen: 500,
      adminToken: 'worker-admin-0123456789',
      stopDelayMs: 2_000,
    });
  });

  it('blocks for less than half the idle time past which the summary no longer counts a consumer as live', () => {
    expect(2 * MAX_BLOCK_MS).toBeLessThanOrEqual(LIVE_CONSUMER_IDLE_MS);
  });

  it('accepts the bounds themselves', () => {
    const config = loadWorkerConfig({
      WORKER_READ_COUNT: '1',
      WORKER_BLOCK_MS: String(MAX_BLOCK_MS),
      WORKER_ADMIN_PORT: '65535',
    });
    expect(config).toMatchObject({ readCount: 1, blockMs: MAX_BLOCK_MS, adminPort: 65_535 });
  });

  it.each([
    ['WORKER_READ_COUNT', '0'],
    ['WORKER_READ_COUNT', '10001'],
    ['WORKER_READ_COUNT', 'many'],
    ['WORKER_BLOCK_MS', '0'],
    ['WORKER_BLOCK_MS', String(MAX_BLOCK_MS + 1)],
    ['WORKER_BLOCK_MS', '1.5'],
    ['WORKER_CONSUMER_NAME', 'has space'],
    ['WORKER_CONSUMER_NAME', 'a:b'],
    ['WORKER_CONSUMER_NAME', 'x'.repeat(129)],
    ['WORKER_ADMIN_PORT', '65536'],
    ['WORKER_ADMIN_PORT', '-1'],
    ['WORKER_RECLAIM_INTERVAL_MS', '9'],
    ['WORKER_RECLAIM_IDLE_MS', '0'],
    ['INGEST_MAX_DELIVERIES', '0'],
    ['WORKER_MAINTENANCE_INTERVAL_MS', 'soon'],
    ['WORKER_CONSUMER_IDLE_MS', '0'],
    ['INGEST_RETAIN_PROCESSED_COUNT', '-1'],
    ['INGEST_RETAIN_PROCESSED_MS', '1.5'],
    ['INGEST_DEAD_LETTER_MAXLEN', '0'],
    ['REDIS_URL', 'http://localhost'],
    ['WORKER_ADMIN_TOKEN', 'too-short'],
    ['WORKER_ADMIN_TOKEN', 'with a space inside it'],
    ['WORKER_STOP_DELAY_MS', '120001'],
  ])('stops on %s=%s and names it', (variable, value) => {
    expect(() => loadWorkerConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}: `));
  });

  it('refuses to run in production without an admin token', () => {
    expect(() => loadWorkerConfig({ NODE_ENV: 'production' })).toThrow(/^WORKER_ADMIN_TOKEN: .*NODE_ENV=production/);
    expect(loadWorkerConfig({ NODE_ENV: 'production', WORKER_ADMIN_TOKEN: 'worker-admin-0123456789' }).adminToken).toBe(
      'worker-admin-0123456789',
    );
  });
});
