import { isolatedConfig, startRedisCluster, testRedisUrl, type RedisCluster } from '@redis-ingest/test-utils';
import type { PipelineConfig } from '../config';
import { createKeys, type SeriesId } from '../keys';
import { createRedisClient } from '../redis';
import type { RedisClient } from '../redis-client';
import { listSeries } from '../series-index';
import { createRollupStore, hasTimeSeriesModule } from './factory';
import {
  SOURCE_REDUCERS,
  TooManySourcesError,
  type Point,
  type RollupBackend,
  type RollupStore,
  type Sample,
  type SourceReducer,
} from './store';
import { AGGREGATIONS, type Aggregation } from './tiers';

/**
 * What every rollup backend promises, run against each backend the test server offers: `native`
 * everywhere, `timeseries` too when the server has the RedisTimeSeries module (Redis 8); on the
 * test server, and on a Redis Cluster of three primaries, where a batch's series span slots.
 */
describe.each(['standalone', 'cluster'] as const)('RollupStore contract (%s)', (topology) => {
  let cluster: RedisCluster | undefined;
  let client: RedisClient;
  /** What makes a configuration a cluster's. */
  let topologyEnv: Record<string, string> = {};
  let backends: RollupBackend[] = [];

  beforeAll(async () => {
    if (topology === 'cluster') {
      cluster = await startRedisCluster({ primaries: 3 });
      topologyEnv = { REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(',') };
    }
    const target = cluster ? { clusterNodes: cluster.rootNodes.map(({ url }) => url) } : { url: testRedisUrl() };
    client = createRedisClient(target, { name: `contract-${topology}`, logger: { warn: () => undefined } });
    await client.connect();
    backends = (await hasTimeSeriesModule(client)) ? ['native', 'timeseries'] : ['native'];
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await cluster?.stop();
  });

  /** Runs a scenario on a fresh store of every backend, naming the backend when it fails. */
  async function onEveryBackend(
    env: Record<string, string>,
    scenario: (store: RollupStore, config: PipelineConfig) => Promise<void>,
  ): Promise<void> {
    for (const backend of backends) {
      const config = isolatedConfig(testRedisUrl(), { INGEST_ROLLUP_BACKEND: backend, ...topologyEnv, ...env });
      const store = await createRollupStore(client, config);
      try {
        expect(store.backend).toBe(backend);
        await scenario(store, config);
      } catch (error) {
        if (error instanceof Error) error.message = `[${backend} backend, ${topology}] ${error.message}`;
        throw error;
      }
    }
  }

  const series: SeriesId = { metric: 'temp', source: 'sensor-1' };
  const samplesOf = (id: SeriesId, points: [number, number][]): Sample[] =>
    points.map(([timestampMs, value]) => ({ ...id, timestampMs, value }));
  const points = (pairs: [number, number][]): Point[] => pairs.map(([timestampMs, value]) => ({ timestampMs, value }));
  const everything = { fromMs: 0, toMs: 10_000_000, limit: 1_000 };

  it('rolls up the RedisTimeSeries example exactly, closing a bucket only when a later one begins', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '60000:avg' }, async (store) => {
      const results = await store.addSamples(
        samplesOf(series, [
          [1000, 10],
          [2000, 20],
          [2000, 30],
          [59000, 40],
          [61000, 100],
          [125000, 7],
        ]),
      );
      expect(results).toEqual(Array(6).fill({ ok: true }));
      const avgPerMinute = { type: 'avg', bucketMs: 60_000 } as const;
      // The closed buckets, as `TS.RANGE rollup - +` shows them.
      expect(await store.range(series, { fromMs: 0, toMs: 119_999, limit: 10, aggregation: avgPerMinute })).toEqual(
        points([
          [0, 26.666666666666668],
          [60_000, 100],
        ]),
      );
      // With the open bucket, as `TS.RANGE rollup - + LATEST` shows it.
      expect(await store.range(series, { ...everything, aggregation: avgPerMinute })).toEqual(
        points([
          [0, 26.666666666666668],
          [60_000, 100],
          [120_000, 7],
        ]),
      );
      expect(await store.latest([series])).toEqual([
        { raw: { timestampMs: 125_000, value: 7 }, rollups: [{ timestampMs: 60_000, value: 100 }] },
      ]);
    });
  });

  it('shows no rollup until a sample from a later bucket closes the first one', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '60000:avg' }, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [1000, 1],
          [59_999, 2],
        ]),
      );
      expect(await store.latest([series])).toEqual([{ raw: { timestampMs: 59_999, value: 2 }, rollups: [null] }]);
      await store.addSamples(samplesOf(series, [[60_000, 3]]));
      expect((await store.latest([series]))[0]!.rollups).toEqual([{ timestampMs: 0, value: 1.5 }]);
    });
  });

  it('keeps the last value of a repeated timestamp, within a batch and across batches', async () => {
    await onEveryBackend({}, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [5000, 1],
          [5000, 2],
          [6000, 3],
        ]),
      );
      await store.addSamples(
        samplesOf(series, [
          [6000, 4],
          [6000, 4],
        ]),
      );
      expect(await store.range(series, everything)).toEqual(
        points([
          [5000, 2],
          [6000, 4],
        ]),
      );
    });
  });

  it('returns values exactly as they were written', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '1s:last' }, async (store) => {
      const values = [0.1, 1e21, 5e-324, -1.5e-7, 1.7976931348623157e308, 123456789.12345679, -42];
      const input = values.map((value, i): [number, number] => [i * 1000, value]);
      await store.addSamples(samplesOf(series, input));
      expect(await store.range(series, everything)).toEqual(points(input));
      expect(await store.range(series, { ...everything, aggregation: { type: 'last', bucketMs: 1000 } })).toEqual(
        points(input),
      );
    });
  });

  it('recalculates a closed bucket when a late sample lands in it', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '60000:avg' }, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [1000, 10],
          [2000, 20],
          [61_000, 1],
        ]),
      );
      expect((await store.latest([series]))[0]!.rollups).toEqual([{ timestampMs: 0, value: 15 }]);
      await store.addSamples(samplesOf(series, [[2000, 50]]));
      expect((await store.latest([series]))[0]!.rollups).toEqual([{ timestampMs: 0, value: 30 }]);
      await store.addSamples(samplesOf(series, [[3000, 0]]));
      expect((await store.latest([series]))[0]!.rollups).toEqual([{ timestampMs: 0, value: 20 }]);
      expect(await store.range(series, everything)).toEqual(
        points([
          [1000, 10],
          [2000, 50],
          [3000, 0],
          [61_000, 1],
        ]),
      );
    });
  });

  describe('every aggregation', () => {
    const bucketMs = 10_000;
    // Fractions whose sums are inexact in binary, negatives, and a bucket of one sample.
    const buckets: [number, number[]][] = [
      [0, [0.1, 0.2, 0.3, -7.25, 1e-7]],
      [10_000, [3]],
      [30_000, [-1, -0.5, 2.5, 1.7976931348623157e308 / 1e300, 12]],
    ];
    const input = buckets.flatMap(([start, values]) =>
      values.map((value, i): [number, number] => [start + i * 1000, value]),
    );
    const expected: Record<Aggregation, (values: number[]) => number> = {
      avg: (values) => values.reduce((sum, value) => sum + value, 0) / values.length,
      sum: (values) => values.reduce((sum, value) => sum + value, 0),
      count: (values) => values.length,
      min: (values) => Math.min(...values),
      max: (values) => Math.max(...values),
      first: (values) => values[0]!,
      last: (values) => values[values.length - 1]!,
    };

    it.each(AGGREGATIONS)('%s, from its tier and on the fly', async (aggregation) => {
      const [first, second, third] = buckets.map(([, values]) => values);
      const aggregate = expected[aggregation];
      await onEveryBackend({ INGEST_ROLLUPS: `${bucketMs}:${aggregation}` }, async (store) => {
        await store.addSamples(samplesOf(series, input));
        expect((await store.latest([series]))[0]!.rollups).toEqual([
          { timestampMs: 10_000, value: aggregate(second!) },
        ]);
        expect(await store.range(series, { ...everything, aggregation: { type: aggregation, bucketMs } })).toEqual(
          buckets.map(([start, values]) => ({ timestampMs: start, value: aggregate(values) })),
        );
        // No tier is 20 s wide, so these come from the raw samples.
        expect(
          await store.range(series, { ...everything, aggregation: { type: aggregation, bucketMs: 20_000 } }),
        ).toEqual([
          { timestampMs: 0, value: aggregate([...first!, ...second!]) },
          { timestampMs: 20_000, value: aggregate(third!) },
        ]);
      });
    });
  });

  it('keeps several tiers of two bucket widths, in the configured order', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '10s:max,1m:sum,10s:min,1m:count' }, async (store) => {
      const input: [number, number][] = [
        [1000, 5],
        [9000, 2],
        [15_000, 7],
        [59_000, 1],
        [61_000, 4],
        [70_500, 9],
      ];
      await store.addSamples(samplesOf(series, input));
      expect(store.tiers.map((tier) => `${tier.bucketMs}:${tier.aggregation}`)).toEqual([
        '10000:max',
        '60000:sum',
        '10000:min',
        '60000:count',
      ]);
      expect(await store.latest([series])).toEqual([
        {
          raw: { timestampMs: 70_500, value: 9 },
          rollups: points([
            [60_000, 4],
            [0, 5 + 2 + 7 + 1],
            [60_000, 4],
            [0, 4],
          ]),
        },
      ]);
      expect(await store.range(series, { ...everything, aggregation: { type: 'min', bucketMs: 10_000 } })).toEqual(
        points([
          [0, 2],
          [10_000, 7],
          [50_000, 1],
          [60_000, 4],
          [70_000, 9],
        ]),
      );
      expect(await store.range(series, { ...everything, aggregation: { type: 'count', bucketMs: 60_000 } })).toEqual(
        points([
          [0, 4],
          [60_000, 2],
        ]),
      );
    });
  });

  it('trims raw samples past the retention and refuses older ones per sample', async () => {
    await onEveryBackend({ INGEST_RAW_RETENTION_MS: '10000' }, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [1000, 1],
          [5000, 2],
          [12_000, 3],
          [20_000, 4],
        ]),
      );
      expect(await store.range(series, everything)).toEqual(
        points([
          [12_000, 3],
          [20_000, 4],
        ]),
      );
      const results = await store.addSamples(
        samplesOf(series, [
          [9999, 5],
          [10_000, 6],
          [30_000, 7],
          [19_999, 8],
        ]),
      );
      expect(results).toEqual([
        { ok: false, reason: expect.stringContaining('TSDB: Timestamp is older than retention') },
        { ok: true },
        { ok: true },
        { ok: false, reason: expect.stringContaining('TSDB: Timestamp is older than retention') },
      ]);
      expect(await store.range(series, everything)).toEqual(
        points([
          [20_000, 4],
          [30_000, 7],
        ]),
      );
    });
  });

  it('keeps every raw sample with a retention of 0', async () => {
    await onEveryBackend({ INGEST_RAW_RETENTION_MS: '0' }, async (store) => {
      const results = await store.addSamples(
        samplesOf(series, [
          [5e11, 1],
          [1, 2],
        ]),
      );
      expect(results).toEqual([{ ok: true }, { ok: true }]);
      expect(await store.range(series, { ...everything, toMs: 1e12 })).toEqual(
        points([
          [1, 2],
          [5e11, 1],
        ]),
      );
    });
  });

  it('trims rollup buckets older than the newest bucket minus the tier retention', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '1s:sum:3s' }, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [500, 1],
          [1500, 2],
          [2500, 3],
          [3500, 4],
          [4500, 5],
          [5500, 6],
        ]),
      );
      // The newest closed bucket is 4000, so 1000 is the oldest kept; 5000 is still open.
      expect(await store.range(series, { ...everything, aggregation: { type: 'sum', bucketMs: 1000 } })).toEqual(
        points([
          [1000, 2],
          [2000, 3],
          [3000, 4],
          [4000, 5],
          [5000, 6],
        ]),
      );
    });
  });

  it('writes a batch across 2,000 series, indexes every one, and answers in input order', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '60000:last' }, async (store, config) => {
      const many: SeriesId[] = Array.from({ length: 2000 }, (_, i) => ({ metric: `m${i % 7}`, source: `device-${i}` }));
      // Each series' two samples sit far apart in the batch, the later one closing a bucket.
      const batch = [
        ...many.map((id, i): Sample => ({ ...id, timestampMs: 1000, value: i })),
        ...many.map((id, i): Sample => ({ ...id, timestampMs: 61_000 + i, value: -i - 0.25 })),
      ];
      expect(await store.addSamples(batch)).toEqual(Array(batch.length).fill({ ok: true }));

      const page = await listSeries(client, createKeys(config.keys), { limit: 5000 });
      const name = ({ metric, source }: SeriesId) => `${metric}:${source}`;
      expect(page.series.map(name)).toEqual(many.map(name).sort());

      const asked = [...many].reverse();
      const latest = await store.latest(asked);
      expect(latest).toEqual(
        asked.map((_, k) => {
          const i = many.length - 1 - k;
          return { raw: { timestampMs: 61_000 + i, value: -i - 0.25 }, rollups: [{ timestampMs: 0, value: i }] };
        }),
      );
    });
  });

  it('answers for a series it has never seen with nulls and empty ranges', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '1m:avg,1h:max' }, async (store) => {
      await store.addSamples(samplesOf(series, [[1000, 1]]));
      const unknown = { metric: 'temp', source: 'never-seen' };
      expect(await store.latest([unknown, series])).toEqual([
        { raw: null, rollups: [null, null] },
        { raw: { timestampMs: 1000, value: 1 }, rollups: [null, null] },
      ]);
      expect(await store.range(unknown, everything)).toEqual([]);
      expect(await store.range(unknown, { ...everything, aggregation: { type: 'avg', bucketMs: 60_000 } })).toEqual([]);
      expect(await store.range(unknown, { ...everything, aggregation: { type: 'sum', bucketMs: 1000 } })).toEqual([]);
    });
  });

  it('reads the newest sample of a series longer than a small sorted set holds', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '1h:avg' }, async (store) => {
      const input: [number, number][] = Array.from({ length: 300 }, (_, i) => [i * 1000, i / 4]);
      await store.addSamples(samplesOf(series, input));
      expect(await store.latest([series])).toEqual([{ raw: { timestampMs: 299_000, value: 74.75 }, rollups: [null] }]);
      expect(await store.range(series, { fromMs: 298_000, toMs: 10_000_000, limit: 10 })).toEqual(
        points(input.slice(298)),
      );
    });
  });

  it('reads appended, late and repeated samples as one series, up to the limit', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '10s:sum' }, async (store) => {
      await store.addSamples(
        samplesOf(series, [
          [1000, 1],
          [3000, 3],
          [5000, 5],
          [7000, 7],
        ]),
      );
      await store.addSamples(
        samplesOf(series, [
          [2000, 2],
          [3000, 30],
          [6000, 6],
          [7000, 70],
        ]),
      );
      const merged = points([
        [1000, 1],
        [2000, 2],
        [3000, 30],
        [5000, 5],
        [6000, 6],
        [7000, 70],
      ]);
      expect(await store.range(series, everything)).toEqual(merged);
      for (const limit of [1, 2, 3, 4, 5])
        expect(await store.range(series, { ...everything, limit })).toEqual(merged.slice(0, limit));
      expect(await store.range(series, { fromMs: 2500, toMs: 6500, limit: 10 })).toEqual(merged.slice(2, 5));
      expect((await store.latest([series]))[0]!.raw).toEqual({ timestampMs: 7000, value: 70 });
      expect(await store.range(series, { ...everything, aggregation: { type: 'sum', bucketMs: 10_000 } })).toEqual(
        points([[0, 114]]),
      );
    });
  });

  it('reads ranges within inclusive bounds, oldest first, up to the limit', async () => {
    await onEveryBackend({ INGEST_ROLLUPS: '10s:avg' }, async (store) => {
      const input: [number, number][] = Array.from({ length: 50 }, (_, i) => [i * 1000, i * 1.5]);
      await store.addSamples(samplesOf(series, [...input].reverse()));
      expect(await store.range(series, { fromMs: 3000, toMs: 6000, limit: 100 })).toEqual(points(input.slice(3, 7)));
      expect(await store.range(series, { fromMs: 3000, toMs: 60_000, limit: 2 })).toEqual(points(input.slice(3, 5)));
      expect(await store.range(series, { fromMs: 0, toMs: 60_000, limit: 0 })).toEqual([]);

      const mean = (from: number, to: number) =>
        input.slice(from, to).reduce((sum, [, value]) => sum + value, 0) / (to - from);
      const tier = { type: 'avg', bucketMs: 10_000 } as const;
      expect(await store.range(series, { fromMs: 10_000, toMs: 60_000, limit: 2, aggregation: tier })).toEqual(
        points([
          [10_000, mean(10, 20)],
          [20_000, mean(20, 30)],
        ]),
      );
      expect(await store.range(series, { fromMs: 10_000, toMs: 60_000, limit: 10, aggregation: tier })).toEqual(
        points([
          [10_000, mean(10, 20)],
          [20_000, mean(20, 30)],
          [30_000, mean(30, 40)],
          [40_000, mean(40, 50)],
        ]),
      );
      // On the fly the limit counts buckets too, and the last bucket may be partial.
      const onTheFly = { type: 'avg', bucketMs: 20_000 } as const;
      expect(await store.range(series, { fromMs: 0, toMs: 60_000, limit: 2, aggregation: onTheFly })).toEqual(
        points([
          [0, mean(0, 20)],
          [20_000, mean(20, 40)],
        ]),
      );
      expect(await store.range(series, { fromMs: 20_000, toMs: 44_000, limit: 10, aggregation: onTheFly })).toEqual(
        points([
          [20_000, mean(20, 40)],
          [40_000, mean(40, 45)],
        ]),
      );
    });
  });

  describe('one metric across its sources', () => {
    const bucketMs = 60_000;
    // Each source's samples; c has a bucket no other source has, d belongs to another metric.
    const bySource: Record<string, [number, number][]> = {
      a: [
        [1_000, 4],
        [2_000, 8],
        [61_000, 1],
      ],
      b: [
        [30_000, -2],
        [119_999, 3.5],
        [150_000, 6],
      ],
      c: [
        [59_999, 10],
        [200_000, 0.5],
      ],
    };
    const max = (values: number[]) => Math.max(...values);
    /** Per source: its samples grouped into buckets and aggregated with max. */
    const perSourceMax = Object.values(bySource).map((pairs) => {
      const buckets = new Map<number, number[]>();
      for (const [timestampMs, value] of pairs) {
        const start = timestampMs - (timestampMs % bucketMs);
        buckets.set(start, [...(buckets.get(start) ?? []), value]);
      }
      return new Map([...buckets].map(([start, values]) => [start, max(values)]));
    });
    const combine: Record<SourceReducer, (values: number[]) => number> = {
      avg: (values) => values.reduce((sum, value) => sum + value, 0) / values.length,
      sum: (values) => values.reduce((sum, value) => sum + value, 0),
      min: (values) => Math.min(...values),
      max,
    };
    const expectedFor = (reduce: SourceReducer): Point[] => {
      const starts = [...new Set(perSourceMax.flatMap((buckets) => [...buckets.keys()]))].sort((x, y) => x - y);
      return starts.map((start) => ({
        timestampMs: start,
        value: combine[reduce](perSourceMax.flatMap((buckets) => (buckets.has(start) ? [buckets.get(start)!] : []))),
      }));
    };

    it.each(SOURCE_REDUCERS)('reduces each bucket with %s, oldest first, up to the limit', async (reduce) => {
      await onEveryBackend({ INGEST_ROLLUPS: '1m:avg' }, async (store) => {
        await store.addSamples(
          Object.entries(bySource).flatMap(([source, pairs]) => samplesOf({ metric: 'load', source }, pairs)),
        );
        await store.addSamples(samplesOf({ metric: 'load-other', source: 'd' }, [[1_000, 1_000]]));
        const query = { ...everything, aggregation: { type: 'max', bucketMs }, reduce } as const;
        expect(await store.rangeAcrossSources('load', query)).toEqual({ sources: 3, points: expectedFor(reduce) });
        expect(await store.rangeAcrossSources('load', { ...query, limit: 2 })).toEqual({
          sources: 3,
          points: expectedFor(reduce).slice(0, 2),
        });
        expect(await store.rangeAcrossSources('load', { ...query, fromMs: 60_000, toMs: 119_999 })).toEqual({
          sources: 3,
          points: expectedFor(reduce).filter(({ timestampMs }) => timestampMs === 60_000),
        });
      });
    });

    it('answers no sources for an unknown metric and refuses more sources than allowed', async () => {
      await onEveryBackend({}, async (store) => {
        await store.addSamples(
          Object.entries(bySource).flatMap(([source, pairs]) => samplesOf({ metric: 'load', source }, pairs)),
        );
        const query = { ...everything, aggregation: { type: 'avg', bucketMs }, reduce: 'sum' } as const;
        expect(await store.rangeAcrossSources('unknown', query)).toEqual({ sources: 0, points: [] });
        await expect(store.rangeAcrossSources('load', { ...query, maxSources: 2 })).rejects.toThrow(
          TooManySourcesError,
        );
        expect((await store.rangeAcrossSources('load', { ...query, maxSources: 3 })).sources).toBe(3);
      });
    });
  });
});
