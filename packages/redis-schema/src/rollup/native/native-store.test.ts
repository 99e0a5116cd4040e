import { createClient } from 'redis';
import { isolatedConfig, startRedisServer, testRedisUrl, type RedisServer } from '@redis-ingest/test-utils';
import { createKeys } from '../../keys';
import type { RedisClient } from '../../redis';
import { NativeRollupStore } from './native-store';

/** What the contract cannot see from outside: the native backend's own upkeep. */
describe('NativeRollupStore', () => {
  const series = { metric: 'temp', source: 'sensor-1' };

  function storeFor(client: RedisClient, url: string, rawRetentionMs: number) {
    const config = isolatedConfig(url, { INGEST_ROLLUPS: '1m:avg' });
    const keys = createKeys(config.keys);
    return { keys, store: new NativeRollupStore(client, { keys, rawRetentionMs, tiers: config.rollupTiers }) };
  }

  describe('on the shared server', () => {
    const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
    beforeAll(() => client.connect());
    afterAll(() => client.destroy());

    it('deletes raw samples past the retention, not only hides them', async () => {
      const { keys, store } = storeFor(client, testRedisUrl(), 16_000);
      await store.bootstrap();
      await store.addSamples([0, 1000, 2000, 17_000].map((timestampMs) => ({ ...series, timestampMs, value: 1 })));
      // The newest moved from 2000 to 17000 past a sixteenth of the retention, so 0 went.
      expect(await client.sendCommand(['ZRANGE', keys.raw(series), '0', '-1'])).toEqual(['1000:1', '2000:1', '17000:1']);
      await store.addSamples([{ ...series, timestampMs: 40_000, value: 2 }]);
      expect(await client.sendCommand(['ZRANGE', keys.raw(series), '0', '-1'])).toEqual(['40000:2']);
    });
  });

  describe('on a server that forgets its scripts', () => {
    let server: RedisServer;
    let client: RedisClient;
    beforeAll(async () => {
      server = await startRedisServer();
      client = createClient({ url: server.url, RESP: 2 }) as unknown as RedisClient;
      await client.connect();
    });
    afterAll(async () => {
      client.destroy();
      await server.stop();
    });

    it('loads the script again and writes the whole batch', async () => {
      const { store } = storeFor(client, server.url, 0);
      await store.bootstrap();
      await client.sendCommand(['SCRIPT', 'FLUSH']);
      const batch = ['a', 'b', 'c'].map((source, i) => ({ metric: 'temp', source, timestampMs: 1000, value: i }));
      expect(await store.addSamples(batch)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      expect((await store.latest(batch)).map((latest) => latest.raw?.value)).toEqual([0, 1, 2]);
    });
  });
});
