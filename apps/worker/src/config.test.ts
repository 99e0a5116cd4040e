import { ConfigError } from '@redis-ingest/redis-schema';
import { MAX_BLOCK_MS, loadWorkerConfig } from './config';

describe('loadWorkerConfig', () => {
  it('uses the documented defaults on top of the pipeline config', () => {
    const config = loadWorkerConfig({});
    expect(config).toMatchObject({
      readCount: 100,
      blockMs: 2_000,
      consumerName: undefined,
      adminPort: 8082,
      redisUrl: 'redis://localhost:6379',
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
    });
    expect(config).toMatchObject({ readCount: 250, blockMs: 500, consumerName: 'worker-a.1', adminPort: 0, consumerGroup: 'group-b' });
  });

  it('accepts the bounds themselves', () => {
    const config = loadWorkerConfig({ WORKER_READ_COUNT: '1', WORKER_BLOCK_MS: String(MAX_BLOCK_MS), WORKER_ADMIN_PORT: '65535' });
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
    ['REDIS_URL', 'http://localhost'],
  ])('stops on %s=%s and names it', (variable, value) => {
    expect(() => loadWorkerConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}: `));
  });
});
