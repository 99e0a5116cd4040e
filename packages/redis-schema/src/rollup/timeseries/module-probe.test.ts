import { createClient } from '@redis/client';
import { testRedisUrl } from '@redis-ingest/test-utils';
import type { RedisClient } from '../../redis-client';
import { hasTimeSeriesModule } from './module-probe';

describe('hasTimeSeriesModule', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;

  beforeAll(() => client.connect());
  afterAll(() => client.destroy());

  it('agrees with the modules the server reports loading', async () => {
    const modules = (await client.sendCommand(['MODULE', 'LIST'])) as unknown as unknown[][];
    const loaded = modules.some((fields) => fields[1] === 'timeseries');
    await expect(hasTimeSeriesModule(client)).resolves.toBe(loaded);
  });

  it('throws when the server cannot be asked instead of guessing', async () => {
    const closed = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
    await expect(hasTimeSeriesModule(closed)).rejects.toThrow('The client is closed');
  });
});
