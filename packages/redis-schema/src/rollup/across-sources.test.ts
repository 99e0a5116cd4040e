import { isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { createKeys } from '../keys';
import { createRedisClient } from '../redis';
import type { RedisClient } from '../redis-client';
import { indexSeriesCommands } from '../series-index';
import { PerTimestampReducer, rangeAcrossSources } from './across-sources';
import { createRollupStore } from './factory';
import { SOURCE_REDUCERS, TooManySourcesError, type Point, type SourceReducer } from './store';

const points = (...pairs: [number, number][]): Point[] => pairs.map(([timestampMs, value]) => ({ timestampMs, value }));

describe('PerTimestampReducer', () => {
  const series = [points([0, 1], [10, 4]), points([0, 3], [20, -2]), points([0, 8], [10, 2])];

  it.each<[SourceReducer, Point[]]>([
    ['avg', points([0, (1 + 3 + 8) / 3], [10, (4 + 2) / 2], [20, -2])],
    ['min', points([0, 1], [10, 2], [20, -2])],
    ['max', points([0, 8], [10, 4], [20, -2])],
    ['sum', points([0, 1 + 3 + 8], [10, 4 + 2], [20, -2])],
  ])('reduces with %s per timestamp, oldest first', (reduce, expected) => {
    const reducer = new PerTimestampReducer(reduce, 10);
    for (const one of [...series].reverse()) reducer.add(one);
    expect(reducer.points()).toEqual(expected);
  });

  it('keeps the earliest `limit` timestamps complete however many are dropped on the way', () => {
    const reducer = new PerTimestampReducer('sum', 2);
    // Each series brings new late timestamps, so dropping runs while earlier ones keep arriving.
    for (let i = 0; i < 20; i++) reducer.add(points([100 + i, 1], [200 + i, 1], [300 + i, 1], [0, 1], [50, 2]));
    expect(reducer.points()).toEqual(points([0, 20], [50, 40]));
  });
});

describe('rangeAcrossSources', () => {
  const config = isolatedConfig(testRedisUrl(), { INGEST_ROLLUP_BACKEND: 'native', INGEST_ROLLUPS: '1m:avg' });
  const keys = createKeys(config.keys);
  let client: RedisClient;

  beforeAll(async () => {
    client = createRedisClient(config.redis, { name: 'across-sources-test', logger: { warn: () => undefined } });
    await client.connect();
  });
  afterAll(() => client.destroy());

  it('reads every source of the metric with the aggregation and reduces each bucket', async () => {
    const store = await createRollupStore(client, config);
    const written = {
      a: [
        [1_000, 2],
        [2_000, 4],
        [61_000, 10],
      ],
      b: [
        [30_000, 6],
        [125_000, 1],
      ],
      c: [[119_000, -3]],
    } as const;
    await store.addSamples(
      Object.entries(written).flatMap(([source, samples]) =>
        samples.map(([timestampMs, value]) => ({ metric: 'load', source, timestampMs, value })),
      ),
    );
    await store.addSamples([{ metric: 'loadavg', source: 'a', timestampMs: 1_000, value: 1_000 }]);
    // Per-source maxima of each minute: a 4 and 10, b 6 and 1, c -3.
    const expected: Record<SourceReducer, Point[]> = {
      avg: points([0, (4 + 6) / 2], [60_000, (10 + -3) / 2], [120_000, 1]),
      min: points([0, 4], [60_000, -3], [120_000, 1]),
      max: points([0, 6], [60_000, 10], [120_000, 1]),
      sum: points([0, 4 + 6], [60_000, 10 + -3], [120_000, 1]),
    };
    for (const reduce of SOURCE_REDUCERS) {
      const query = {
        fromMs: 0,
        toMs: 180_000,
        limit: 10,
        aggregation: { type: 'max', bucketMs: 60_000 } as const,
        reduce,
      };
      expect(await rangeAcrossSources(client, keys, store, 'load', query)).toEqual({
        sources: 3,
        points: expected[reduce],
      });
    }
    const firstTwo = {
      fromMs: 0,
      toMs: 180_000,
      limit: 2,
      aggregation: { type: 'max', bucketMs: 60_000 } as const,
      reduce: 'sum' as const,
    };
    expect((await rangeAcrossSources(client, keys, store, 'load', firstTwo)).points).toEqual(expected.sum.slice(0, 2));
    await expect(rangeAcrossSources(client, keys, store, 'load', { ...firstTwo, maxSources: 2 })).rejects.toThrow(
      TooManySourcesError,
    );
    expect(await rangeAcrossSources(client, keys, store, 'none', firstTwo)).toEqual({ sources: 0, points: [] });
  });

  it('pages through more series than one index page holds', async () => {
    const sources = 1_234;
    await Promise.all(
      Array.from({ length: sources }, (_, i) => indexSeriesCommands(keys, { metric: 'wide', source: `s${i}` }))
        .flat()
        .map((args) => client.sendCommand(args)),
    );
    const store = await createRollupStore(client, config);
    const query = {
      fromMs: 0,
      toMs: 1,
      limit: 1,
      aggregation: { type: 'avg', bucketMs: 1 } as const,
      reduce: 'avg' as const,
    };
    expect(await rangeAcrossSources(client, keys, store, 'wide', query)).toEqual({ sources, points: [] });
  });
});
