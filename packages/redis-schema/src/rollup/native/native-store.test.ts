import {
  isolatedConfig,
  redisCommand,
  startRedisCluster,
  startRedisServer,
  testRedisUrl,
  type RedisCluster,
  type RedisServer,
} from '@redis-ingest/test-utils';
import { keySlot } from '../../cluster/key-slot';
import { createKeys } from '../../keys';
import { createRedisClient } from '../../redis';
import type { RedisClient } from '../../redis-client';
import type { Sample } from '../store';
import { MAX_SAMPLES_PER_CALL, NativeRollupStore } from './native-store';

const silent = { warn: () => undefined };

/** What the contract cannot see from outside: the native backend's own upkeep. */
describe('NativeRollupStore', () => {
  const series = { metric: 'temp', source: 'sensor-1' };

  function storeFor(
    client: RedisClient,
    url: string,
    rawRetentionMs: number,
    { rollups = '1m:avg' }: { rollups?: string } = {},
  ) {
    const config = isolatedConfig(url, { INGEST_ROLLUPS: rollups });
    const keys = createKeys(config.keys);
    return { keys, store: new NativeRollupStore(client, { keys, rawRetentionMs, tiers: config.rollupTiers }) };
  }

  // Names far apart, so that some of the 900 series share a slot (CRC16 parts names that differ in a byte or two).
  const spread = (count: number): Sample[] =>
    Array.from({ length: count }, (_, i) => ({
      metric: 'temp',
      source: `device-${((i % 900) * 2_654_435_761) % 1e9}`,
      timestampMs: i,
      value: i,
    }));

  describe('on the shared server', () => {
    const client = createRedisClient(testRedisUrl(), { name: 'native-store-test', logger: silent });
    beforeAll(() => client.connect());
    afterAll(() => client.destroy());

    it('deletes raw samples past the retention, not only hides them', async () => {
      const { keys, store } = storeFor(client, testRedisUrl(), 16_000);
      await store.bootstrap();
      await store.addSamples([0, 1000, 2000, 17_000].map((timestampMs) => ({ ...series, timestampMs, value: 1 })));
      // The newest moved from 2000 to 17000 past a sixteenth of the retention, so 0 went.
      const kept = async () =>
        ((await client.sendCommand(['XRANGE', keys.raw(series), '-', '+'])) as unknown as [string, string[]][]).map(
          ([id, fields]) => `${id} ${fields.join(' ')}`,
        );
      expect(await kept()).toEqual(['1000-1 v 1', '2000-1 v 1', '17000-1 v 1']);
      await store.addSamples([{ ...series, timestampMs: 40_000, value: 2 }]);
      expect(await kept()).toEqual(['40000-1 v 2']);
    });

    it('reads and writes a series that earlier releases kept in a sorted set, after a read or a write moved it', async () => {
      const { keys, store } = storeFor(client, testRedisUrl(), 0, { rollups: '10s:sum' });
      await store.bootstrap();
      const readFirst = { metric: 'legacy', source: 'read-first' };
      const writeFirst = { metric: 'legacy', source: 'write-first' };
      for (const id of [readFirst, writeFirst])
        await client.sendCommand(['ZADD', keys.raw(id), '1000', '1000:1', '2000', '2000:2.5']);
      const everything = { fromMs: 0, toMs: 100_000, limit: 100 };
      const typeOf = (id: typeof series) => client.sendCommand(['TYPE', keys.raw(id)]);

      expect(await store.range(readFirst, everything)).toEqual([
        { timestampMs: 1000, value: 1 },
        { timestampMs: 2000, value: 2.5 },
      ]);
      // The set is now the series' late set, which reads merge; the next write starts the stream.
      expect(await typeOf(readFirst)).toBe('none');
      expect((await store.latest([readFirst]))[0]!.raw).toEqual({ timestampMs: 2000, value: 2.5 });

      await store.addSamples([
        { ...writeFirst, timestampMs: 12_000, value: 3 },
        { ...writeFirst, timestampMs: 1000, value: 10 },
      ]);
      expect(await typeOf(writeFirst)).toBe('stream');
      expect(await store.range(writeFirst, everything)).toEqual([
        { timestampMs: 1000, value: 10 },
        { timestampMs: 2000, value: 2.5 },
        { timestampMs: 12_000, value: 3 },
      ]);
      const [latest] = await store.latest([writeFirst]);
      expect(latest).toEqual({ raw: { timestampMs: 12_000, value: 3 }, rollups: [{ timestampMs: 0, value: 12.5 }] });
    });

    it('writes the buckets of series closing in step spread over half a bucket, reading alike meanwhile', async () => {
      const { keys, store } = storeFor(client, testRedisUrl(), 0, { rollups: '1m:avg' });
      await store.bootstrap();
      const fleet = Array.from({ length: 400 }, (_, i) => ({ metric: 'temp', source: `in-step-${i}` }));
      const readingsAt = (timestampMs: number) =>
        fleet.map((id, i) => ({ ...id, timestampMs, value: i + timestampMs / 1000 }));
      for (const timestampMs of [1_000, 30_000, 59_000]) await store.addSamples(readingsAt(timestampMs));
      const written = async () =>
        (
          await Promise.all(
            fleet.map((id) => client.sendCommand(['EXISTS', keys.rollup(id, store.tiers[0]!)]) as Promise<number>),
          )
        ).reduce((sum, exists) => sum + exists, 0);
      const expected = fleet.map((_, i) => [{ timestampMs: 0, value: i + 30 }]);
      const minuteBuckets = async () =>
        (await store.latest(fleet)).map(({ rollups }) => rollups) as unknown as {
          timestampMs: number;
          value: number;
        }[][];

      // Every series' first bucket has closed; a few have waited long enough to write it.
      await store.addSamples(readingsAt(61_000));
      const early = await written();
      expect(early).toBeGreaterThan(0);
      expect(early).toBeLessThan(fleet.length / 10);
      expect(await minuteBuckets()).toEqual(expected);
      const avgPerMinute = { type: 'avg', bucketMs: 60_000 } as const;
      expect(await store.range(fleet[7]!, { fromMs: 0, toMs: 59_999, limit: 5, aggregation: avgPerMinute })).toEqual([
        { timestampMs: 0, value: 37 },
      ]);

      await store.addSamples(readingsAt(75_000));
      const halfway = await written();
      expect(halfway).toBeGreaterThan(fleet.length / 4);
      expect(halfway).toBeLessThan((fleet.length * 3) / 4);
      expect(await minuteBuckets()).toEqual(expected);

      // Half a bucket on, every series has written it.
      await store.addSamples(readingsAt(90_000));
      expect(await written()).toBe(fleet.length);
      expect(await minuteBuckets()).toEqual(expected);
    });

    it('writes alike when another store wrote the series since this one did', async () => {
      const { keys, store: first } = storeFor(client, testRedisUrl(), 0, { rollups: '1m:avg' });
      const second = new NativeRollupStore(client, { keys, rawRetentionMs: 0, tiers: first.tiers });
      const { store: alone } = storeFor(client, testRedisUrl(), 0, { rollups: '1m:avg' });
      for (const store of [first, second, alone]) await store.bootstrap();
      // Series of many delays. Each store's newest is behind the other's: appends, a sample between
      // the two, buckets closed twice, and one store's sample two buckets past what it wrote.
      const fleet = Array.from({ length: 40 }, (_, i) => ({ metric: 'temp', source: `turns-${i}` }));
      const turns: [NativeRollupStore, number, number][] = [
        [first, 10_000, 1],
        [second, 50_000, 2],
        [second, 100_000, 3],
        [first, 95_000, 4],
        [first, 130_000, 5],
        [second, 200_000, 6],
        [first, 250_000, 7],
        [second, 330_000, 8],
      ];
      for (const [store, timestampMs, value] of turns) {
        await store.addSamples(fleet.map((id) => ({ ...id, timestampMs, value })));
        await alone.addSamples(fleet.map((id) => ({ ...id, timestampMs, value })));
      }
      const everything = { fromMs: 0, toMs: 1_000_000, limit: 100 };
      const byMinute = { ...everything, aggregation: { type: 'avg' as const, bucketMs: 60_000 } };
      for (const id of fleet) {
        for (const query of [everything, byMinute])
          expect(await first.range(id, query)).toEqual(await alone.range(id, query));
        expect(await first.latest([id])).toEqual(await alone.latest([id]));
      }
      expect(await first.range(fleet[0]!, byMinute)).toEqual([
        { timestampMs: 0, value: 1.5 },
        { timestampMs: 60_000, value: 3.5 },
        { timestampMs: 120_000, value: 5 },
        { timestampMs: 180_000, value: 6 },
        { timestampMs: 240_000, value: 7 },
        { timestampMs: 300_000, value: 8 },
      ]);
    });

    it('treats a sample newer than what it wrote but older than a legacy late set as late', async () => {
      const { keys, store } = storeFor(client, testRedisUrl(), 0, { rollups: '10s:sum' });
      await store.bootstrap();
      await client.sendCommand(['ZADD', keys.raw(series), '1000', '1000:1', '2000', '2000:2.5']);
      // Both are older than the set's newest, so the stream stays absent and the set holds every sample.
      await store.addSamples([{ ...series, timestampMs: 500, value: 4 }]);
      await store.addSamples([{ ...series, timestampMs: 1_500, value: 8 }]);
      expect(await client.sendCommand(['TYPE', keys.raw(series)])).toBe('none');
      expect(await store.range(series, { fromMs: 0, toMs: 10_000, limit: 10 })).toEqual([
        { timestampMs: 500, value: 4 },
        { timestampMs: 1000, value: 1 },
        { timestampMs: 1_500, value: 8 },
        { timestampMs: 2000, value: 2.5 },
      ]);
      expect((await store.latest([series]))[0]!.raw).toEqual({ timestampMs: 2000, value: 2.5 });
    });

    it('writes more samples of one series in one batch than one command can take', async () => {
      const { store } = storeFor(client, testRedisUrl(), 0, { rollups: '1h:count' });
      // All in one open bucket, so no bucket closes until the last sample.
      const batch = Array.from({ length: 5_000 }, (_, i) => ({ ...series, timestampMs: i * 100, value: i }));
      batch.push({ ...series, timestampMs: 3_600_000, value: -1 });
      expect(await store.addSamples(batch)).toEqual(Array(batch.length).fill({ ok: true }));
      const everything = { fromMs: 0, toMs: 10_000_000, limit: 10_000 };
      expect(await store.range(series, everything)).toEqual(
        batch.map(({ timestampMs, value }) => ({ timestampMs, value })),
      );
      expect((await store.latest([series]))[0]!.rollups).toEqual([{ timestampMs: 0, value: 5_000 }]);
    });
  });

  describe('on a private server, whose statistics and scripts the tests reset', () => {
    let server: RedisServer;
    let client: RedisClient;
    beforeAll(async () => {
      server = await startRedisServer();
      client = createRedisClient(server.url, { name: 'native-store-test', logger: silent });
      await client.connect();
    });
    afterAll(async () => {
      client.destroy();
      await server.stop();
    });

    async function scriptCallsFor(samples: Sample[]): Promise<number> {
      const { store } = storeFor(client, server.url, 0);
      await store.bootstrap();
      await client.sendCommand(['CONFIG', 'RESETSTAT']);
      await store.addSamples(samples);
      return commandCalls(String(await client.sendCommand(['INFO', 'commandstats'])), 'evalsha');
    }

    it('makes one script call per batch, of whole series and at most MAX_SAMPLES_PER_CALL samples', async () => {
      expect(await scriptCallsFor(spread(MAX_SAMPLES_PER_CALL))).toBe(1);
      expect(await scriptCallsFor(spread(MAX_SAMPLES_PER_CALL * 2.5))).toBe(3);
      const oneSeries = Array.from({ length: MAX_SAMPLES_PER_CALL * 2.5 }, (_, i) => ({
        ...series,
        timestampMs: i,
        value: i,
      }));
      expect(await scriptCallsFor(oneSeries)).toBe(1);
    });

    it("appends a series' next samples without reading its newest, once it has written to the series", async () => {
      const { keys, store } = storeFor(client, server.url, 0);
      await store.bootstrap();
      const fleet = spread(900);
      const later = fleet.map((sample) => ({ ...sample, timestampMs: sample.timestampMs + 1_000 }));
      const newestReadsFor = async (samples: Sample[]) => {
        await client.sendCommand(['CONFIG', 'RESETSTAT']);
        expect(await store.addSamples(samples)).toEqual(Array(samples.length).fill({ ok: true }));
        return commandCalls(String(await client.sendCommand(['INFO', 'commandstats'])), 'xrevrange');
      };
      expect(await newestReadsFor(fleet)).toBe(900);
      expect(await newestReadsFor(later)).toBe(0);
      // Older than what the store wrote: the series' newest decides whether it is late.
      expect(await newestReadsFor(fleet.slice(0, 10))).toBe(10);
      expect((await store.latest(later.slice(-3))).map((latest) => latest.raw)).toEqual(
        later.slice(-3).map(({ timestampMs, value }) => ({ timestampMs, value })),
      );

      // After a failed call, what the store wrote no longer counts: a failover may have lost it.
      const broken = keys.raw(fleet[0]!);
      await client.sendCommand(['RENAME', broken, `${broken}:aside`]);
      await client.sendCommand(['SET', broken, 'not a series']);
      const laterBy = (ms: number) => later.map((sample) => ({ ...sample, timestampMs: sample.timestampMs + ms }));
      await expect(store.addSamples(laterBy(1_000))).rejects.toThrow();
      await client.sendCommand(['RENAME', `${broken}:aside`, broken]);
      expect(await newestReadsFor(laterBy(2_000))).toBe(900);
    });

    it('loads the script again when the server forgot it and writes the whole batch', async () => {
      const { store } = storeFor(client, server.url, 0);
      await store.bootstrap();
      await client.sendCommand(['SCRIPT', 'FLUSH']);
      // Several calls, each of which finds the script missing.
      const batch = spread(2_500);
      expect(await store.addSamples(batch)).toEqual(Array(batch.length).fill({ ok: true }));
      const newest = batch.slice(-900);
      expect((await store.latest(newest)).map((latest) => latest.raw?.value)).toEqual(newest.map(({ value }) => value));
    });
  });

  describe('on a cluster, whose client groups series by slot', () => {
    let cluster: RedisCluster;
    let clustered: RedisClient;
    const standalone = createRedisClient(testRedisUrl(), { name: 'native-store-test', logger: silent });
    beforeAll(async () => {
      cluster = await startRedisCluster({ primaries: 3 });
      clustered = createRedisClient(
        { clusterNodes: cluster.rootNodes.map(({ url }) => url) },
        { name: 'native-store-test', logger: silent },
      );
      await Promise.all([clustered.connect(), standalone.connect()]);
    }, 60_000);
    afterAll(async () => {
      clustered?.destroy();
      standalone.destroy();
      await cluster?.stop();
    });

    /** EVALSHA calls on every primary since their statistics were reset. */
    async function clusterScriptCalls(): Promise<number> {
      const primaries = await cluster.primaries();
      const stats = await Promise.all(primaries.map(({ port }) => redisCommand(port, ['INFO', 'commandstats'])));
      return stats.reduce<number>((sum, text) => sum + commandCalls(String(text), 'evalsha'), 0);
    }

    it('makes one script call per Cluster slot', async () => {
      const samples = spread(900);
      const { keys, store } = storeFor(clustered, testRedisUrl(), 0);
      await store.bootstrap();
      const slots = new Set(samples.map((sample) => keySlot(keys.raw(sample))));
      expect(slots.size).toBeLessThan(samples.length);
      const primaries = await cluster.primaries();
      await Promise.all(primaries.map(({ port }) => redisCommand(port, ['CONFIG', 'RESETSTAT'])));
      await store.addSamples(samples);
      expect(await clusterScriptCalls()).toBe(slots.size);
    });

    it('writes alike whether a call takes the whole batch or the series of one slot', async () => {
      const rollups = '10s:avg,10s:max,1m:last';
      // Late, repeated and too old samples for series spread over many slots.
      const batchOf = (round: number): Sample[] =>
        Array.from({ length: 600 }, (_, i) => ({
          metric: `m${i % 3}`,
          source: `device-${i % 150}`,
          timestampMs: 100_000 * round + (i % 4 === 3 ? 1000 : (i * 997) % 70_000),
          value: (i * round) / 8,
        }));
      const stores = [standalone, clustered].map(
        (client) => storeFor(client, testRedisUrl(), 30_000, { rollups }).store,
      );
      const outcomes = await Promise.all(
        stores.map(async (store) => {
          const results = [];
          for (const round of [1, 2, 0, 3]) results.push(await store.addSamples(batchOf(round)));
          const ids = batchOf(0).slice(0, 450);
          const everything = { fromMs: 0, toMs: 1_000_000, limit: 1_000 };
          const ranges = await Promise.all(
            ids.flatMap((id) => [
              store.range(id, everything),
              ...store.tiers.map((tier) =>
                store.range(id, { ...everything, aggregation: { type: tier.aggregation, bucketMs: tier.bucketMs } }),
              ),
            ]),
          );
          return { results, ranges, latest: await store.latest(ids) };
        }),
      );
      expect(outcomes[0]!.results.flat().some((result) => !result.ok)).toBe(true);
      expect(outcomes[1]).toEqual(outcomes[0]);
    });
  });
});

function commandCalls(commandstats: string, command: string): number {
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(commandstats)?.[1] ?? 0);
}
