import {
  LAG_COUNT_LIMIT,
  bucketStart,
  createKeys,
  createRedisClient,
  createRollupStore,
  deadLetterFields,
  readConsumerGroups,
  type Failure,
  type RedisClient,
  type RollupStore,
  type Sample,
} from '@redis-ingest/redis-schema';
import { eventually, freePort, isolatedEnv, startRedisServer, testRedisUrl } from '@redis-ingest/test-utils';
import { loadQueryConfig, type QueryConfig } from './config';
import { REPLAY_PAGE_SIZE } from './dead-letters';
import { start, type RunningQueryApi } from './server';

function queryConfig(redisUrl: string, overrides: Record<string, string> = {}): QueryConfig {
  return loadQueryConfig(
    isolatedEnv(redisUrl, {
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_ROLLUP_BACKEND: 'native',
      ...overrides,
    }),
  );
}

const connectedClient = async (url: string): Promise<RedisClient> => {
  const client = createRedisClient(url, { name: 'query-api-test', logger: { warn: () => undefined } });
  await client.connect();
  return client;
};

async function getJson(base: string, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, init);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  return { status: response.status, body: await response.json() };
}

/** Starts a query-api on fresh keys for each test; read the fields inside tests and hooks. */
function liveApi(overrides: Record<string, string> = {}) {
  const live = {} as { redis: RedisClient; config: QueryConfig; api: RunningQueryApi; base: string };
  beforeAll(async () => {
    live.redis = await connectedClient(testRedisUrl());
  });
  afterAll(() => live.redis.destroy());
  beforeEach(async () => {
    live.config = queryConfig(testRedisUrl(), overrides);
    live.api = await start(live.config);
    live.base = `http://127.0.0.1:${live.api.port}`;
  });
  afterEach(() => live.api.stop());
  return live;
}

/** A 400 whose message and error list both name the parameter. */
function expectRefusal({ status, body }: { status: number; body: any }, parameter: string): void {
  expect(status).toBe(400);
  expect(body.error).toContain(parameter);
  expect(body.errors.map((error: { path: string }) => error.path)).toContain(parameter);
}

const streamFields = (source: string, metric: string, value: string) => ({
  source,
  metric,
  value,
  occurredAt: new Date().toISOString(),
});

describe('query-api against a live Redis', () => {
  let redis: RedisClient;
  let config: QueryConfig;
  let api: RunningQueryApi;
  let store: RollupStore;
  let base: string;
  const get = (path: string) => getJson(base, path);

  beforeAll(async () => {
    redis = await connectedClient(testRedisUrl());
  });
  afterAll(() => redis.destroy());
  beforeEach(async () => {
    config = queryConfig(testRedisUrl());
    api = await start(config);
    base = `http://127.0.0.1:${api.port}`;
    store = await createRollupStore(redis, config);
  });
  afterEach(() => api.stop());

  const addEntries = async (key: string, count: number, value = (i: number) => String(i)) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(await redis.xAdd(key, '*', streamFields('sensor-1', 'temperature', value(i))));
    return ids;
  };

  it('answers zeros and no series before anything exists', async () => {
    expect(await get('/api/ingest/summary')).toEqual({
      status: 200,
      body: { queue: { total: 0, pending: 0, dead_lettered: 0, lag: 0, consumers: 0 }, metrics: [], next: null },
    });
    expect(await get('/api/ingest/events/recent')).toEqual({ status: 200, body: { events: [] } });
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('counts the queue as the configured consumer group sees it', async () => {
    const { streamKey, deadLetterKey } = config.keys;
    const ids = await addEntries(streamKey, 6);
    await addEntries(deadLetterKey, 2);
    await redis.xGroupCreate(streamKey, config.consumerGroup, '0');
    await redis.xReadGroup(config.consumerGroup, 'worker-1', { key: streamKey, id: '>' }, { COUNT: 3 });
    await redis.xReadGroup(config.consumerGroup, 'worker-2', { key: streamKey, id: '>' }, { COUNT: 1 });
    await redis.xAck(streamKey, config.consumerGroup, ids[0]!);
    // Another group's progress must not leak into the numbers.
    await redis.xGroupCreate(streamKey, 'auditors', '0');
    await redis.xReadGroup('auditors', 'auditor-1', { key: streamKey, id: '>' }, { COUNT: 6 });

    const delivered = 3 + 1;
    const acknowledged = 1;
    const { body } = await get('/api/ingest/summary');
    expect(body.queue).toEqual({
      total: ids.length,
      pending: delivered - acknowledged,
      dead_lettered: 2,
      lag: ids.length - delivered,
      consumers: 2,
    });
  });

  it('counts the backlog itself when Redis cannot tell the lag', async () => {
    const { streamKey } = config.keys;
    const ids = await addEntries(streamKey, 5);
    // A group created at an arbitrary ID has no entries-read counter, so Redis answers lag nil.
    await redis.xGroupCreate(streamKey, config.consumerGroup, ids[1]!);
    const [group] = await readConsumerGroups(redis, streamKey);
    expect(group?.lag).toBeNull();

    const { body } = await get('/api/ingest/summary');
    expect(body.queue).toEqual({ total: 5, pending: 0, dead_lettered: 0, lag: ids.length - 2, consumers: 0 });
  });

  it('reports an unknown lag rather than a capped count', async () => {
    const { streamKey } = config.keys;
    const entries = LAG_COUNT_LIMIT + 3;
    const ids = await Promise.all(
      Array.from({ length: entries }, (_, i) => redis.xAdd(streamKey, `${i + 1}-0`, streamFields('s', 'm', '1'))),
    );
    await redis.xGroupCreate(streamKey, config.consumerGroup, ids[1]!);
    const { body } = await get('/api/ingest/summary');
    expect(body.queue.total).toBe(entries);
    expect(body.queue.lag).toBeNull();
  });

  it('shows the latest raw point, and the rollup once a later bucket has closed the first', async () => {
    const bucketMs = config.rollupTiers[0]!.bucketMs;
    const t0 = bucketStart(Date.now(), bucketMs) - 5 * bucketMs;
    const series = { metric: 'temperature', source: 'sensor-1' };
    await store.addSamples([
      { ...series, timestampMs: t0 + 1_000, value: 10 },
      { ...series, timestampMs: t0 + 2_000, value: 20 },
    ]);
    expect((await get('/api/ingest/summary')).body.metrics).toEqual([
      { ...series, raw: { timestampMs: t0 + 2_000, value: 20 }, rollup: null },
    ]);

    await store.addSamples([{ ...series, timestampMs: t0 + bucketMs + 500, value: 7 }]);
    expect((await get('/api/ingest/summary')).body.metrics).toEqual([
      {
        ...series,
        raw: { timestampMs: t0 + bucketMs + 500, value: 7 },
        rollup: { timestampMs: t0, value: (10 + 20) / 2 },
      },
    ]);
  });

  it('pages through series with filters and a cursor', async () => {
    const timestampMs = Date.now();
    const cpuSources = ['s1', 's2', 's3', 's4', 's5', 's6', 's7'];
    const samples: Sample[] = [
      ...cpuSources.map((source, i) => ({ metric: 'cpu', source, timestampMs, value: i })),
      { metric: 'mem', source: 's1', timestampMs, value: 100 },
      { metric: 'mem', source: 's2', timestampMs, value: 101 },
      { metric: 'disk', source: 's1', timestampMs, value: 102 },
    ];
    await store.addSamples(samples);
    const written = (metric: string, source: string) =>
      samples.find((sample) => sample.metric === metric && sample.source === source)!.value;

    const pages: { metric: string; source: string; raw: { value: number } }[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?metric=cpu&limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const { status, body } = await get(`/api/ingest/summary${query}`);
      expect(status).toBe(200);
      pages.push(body.metrics);
      cursor = body.next;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    const listed = pages.flat();
    expect(listed.map(({ source }) => source)).toEqual(cpuSources);
    for (const { metric, source, raw } of listed) expect(raw.value).toBe(written(metric, source));

    const bySource = (await get('/api/ingest/summary?source=s1')).body;
    expect(
      bySource.metrics.map(({ metric, source }: { metric: string; source: string }) => `${metric}/${source}`),
    ).toEqual(['cpu/s1', 'disk/s1', 'mem/s1']);
    expect(bySource.metrics.map(({ raw }: { raw: { value: number } }) => raw.value)).toEqual([
      written('cpu', 's1'),
      written('disk', 's1'),
      written('mem', 's1'),
    ]);
    expect(bySource.next).toBeNull();

    const names = (body: { metrics: { metric: string; source: string }[] }) =>
      body.metrics.map(({ metric, source }) => `${metric}/${source}`);
    expect(names((await get('/api/ingest/summary?metricPrefix=m')).body)).toEqual(['mem/s1', 'mem/s2']);
    expect(names((await get('/api/ingest/summary?metric=cpu&sourcePrefix=s')).body)).toHaveLength(cpuSources.length);
    expect(names((await get('/api/ingest/summary?source=s2&metricPrefix=c')).body)).toEqual(['cpu/s2']);
    expect(names((await get('/api/ingest/summary?sourcePrefix=s2')).body)).toEqual(['cpu/s2', 'mem/s2']);

    const exact = (await get('/api/ingest/summary?metric=mem&source=s2')).body;
    expect(exact.metrics).toEqual([{ metric: 'mem', source: 's2', raw: { timestampMs, value: 101 }, rollup: null }]);
    expect((await get('/api/ingest/summary')).body.metrics).toHaveLength(samples.length);
  });

  it('lists recent entries newest first, as many as asked, with values as numbers when they are', async () => {
    const ids = await addEntries(config.keys.streamKey, 11);
    ids.push(await redis.xAdd(config.keys.streamKey, '*', { source: 'by-hand', value: 'hot' }));

    const { body } = await get('/api/ingest/events/recent?count=3');
    expect(body.events.map(({ id }: { id: string }) => id)).toEqual(ids.slice(-3).reverse());
    expect(body.events[0]).toEqual({ id: ids[11], source: 'by-hand', metric: null, value: 'hot', occurredAt: null });
    expect(body.events[1]).toEqual({
      id: ids[10],
      source: 'sensor-1',
      metric: 'temperature',
      value: 10,
      occurredAt: expect.any(String),
    });

    const defaults = (await get('/api/ingest/events/recent')).body;
    expect(defaults.events.map(({ id }: { id: string }) => id)).toEqual(ids.slice(-10).reverse());
  });

  it.each([
    ['/api/ingest/summary?limit=0', '/limit'],
    ['/api/ingest/summary?limit=101', '/limit'],
    ['/api/ingest/summary?limit=ten', '/limit'],
    ['/api/ingest/summary?metric=a:b', '/metric'],
    ['/api/ingest/summary?source=a%20b', '/source'],
    ['/api/ingest/summary?source=a&source=b', '/source'],
    ['/api/ingest/summary?cursor=%7Bx%7D', '/cursor'],
    ['/api/ingest/summary?sourcePrefix=a%3Ab', '/sourcePrefix'],
    ['/api/ingest/summary?metric=cpu&metricPrefix=c', '/metricPrefix'],
    ['/api/ingest/summary?metricPrefix=c&sourcePrefix=s', '/sourcePrefix'],
    ['/api/ingest/series?source=s&sourcePrefix=s', '/sourcePrefix'],
    ['/api/ingest/summary?page=2', '/page'],
    ['/api/ingest/events/recent?count=101', '/count'],
    ['/api/ingest/events/recent?count=-1', '/count'],
    ['/api/ingest/events/recent?limit=5', '/limit'],
  ])('answers %s with a 400 naming %s', async (path, parameter) => {
    expectRefusal(await get(path), parameter);
  });

  it('answers an unknown route with a JSON 404', async () => {
    expect((await get('/api/ingest/nothing')).status).toBe(404);
  });
});

describe('query-api without Redis', () => {
  const answersWithinASecond = async (base: string, path: string) => {
    const started = Date.now();
    const response = await getJson(base, path);
    expect(Date.now() - started).toBeLessThan(1_000);
    return response;
  };

  it('starts anyway and answers 503 at once while nothing listens on the Redis port', async () => {
    const api = await start(queryConfig(`redis://127.0.0.1:${await freePort()}`));
    try {
      const base = `http://127.0.0.1:${api.port}`;
      for (const path of ['/api/ingest/summary', '/api/ingest/events/recent']) {
        const { status, body } = await answersWithinASecond(base, path);
        expect(status).toBe(503);
        expect(body.error).toMatch(/redis/i);
      }
      expect((await answersWithinASecond(base, '/healthz')).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('serves the summary once Redis comes up after start-up', async () => {
    const server = await startRedisServer();
    await server.kill();
    const config = queryConfig(server.url);
    const api = await start(config);
    let writer: RedisClient | undefined;
    try {
      const base = `http://127.0.0.1:${api.port}`;
      expect((await answersWithinASecond(base, '/api/ingest/summary')).status).toBe(503);
      await server.restart();
      writer = await connectedClient(server.url);
      const series = { metric: 'm', source: 's' };
      await (await createRollupStore(writer, config)).addSamples([{ ...series, timestampMs: Date.now(), value: 3 }]);

      let answer = await getJson(base, '/api/ingest/summary');
      await eventually(
        async () => (answer = await getJson(base, '/api/ingest/summary')).status === 200,
        10_000,
        'a summary',
      );
      expect(answer.body.metrics).toEqual([
        { ...series, raw: { timestampMs: expect.any(Number), value: 3 }, rollup: null },
      ]);
    } finally {
      writer?.destroy();
      await api.stop();
      await server.stop();
    }
  });
});

type Reducer = 'avg' | 'min' | 'max' | 'sum';
type Aggregation = Reducer | 'count' | 'first' | 'last';
interface TestPoint {
  timestampMs: number;
  value: number;
}

const summarize = (values: number[], type: Aggregation): number => {
  const sum = values.reduce((total, value) => total + value, 0);
  const figures = {
    avg: sum / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    sum,
    count: values.length,
    first: values[0]!,
    last: values[values.length - 1]!,
  };
  return figures[type];
};

/** Groups points by timestamp (after bucketing) and summarizes each group, oldest first. */
function groupPoints(points: TestPoint[], bucketMs: number, type: Aggregation): TestPoint[] {
  const groups = new Map<number, number[]>();
  for (const { timestampMs, value } of [...points].sort((a, b) => a.timestampMs - b.timestampMs)) {
    const start = timestampMs - (timestampMs % bucketMs);
    groups.set(start, [...(groups.get(start) ?? []), value]);
  }
  return [...groups]
    .sort(([a], [b]) => a - b)
    .map(([timestampMs, values]) => ({ timestampMs, value: summarize(values, type) }));
}

describe('query-api ranges', () => {
  const MINUTE = 60_000;
  const live = liveApi({ INGEST_ROLLUPS: '1m:avg', QUERY_MAX_POINTS: '50', QUERY_MAX_SOURCES: '3' });
  let store: RollupStore;
  const get = (path: string) => getJson(live.base, path);
  // Aligned to the hour, so every bucket width used here starts at t0.
  const t0 = bucketStart(Date.now() - 3 * 3_600_000, 3_600_000);
  const series = { metric: 'temperature', source: 'sensor-1' };
  const written: TestPoint[] = [
    { timestampMs: t0 + 1_000, value: 10 },
    { timestampMs: t0 + 2_000, value: 20 },
    { timestampMs: t0 + 61_000, value: 5 },
    { timestampMs: t0 + 62_000, value: 7.5 },
    { timestampMs: t0 + 125_000, value: -1 },
    { timestampMs: t0 + 250_000, value: 4 },
  ];
  const rangeOf = (query: string) =>
    get(`/api/ingest/series/temperature/sensor-1/range?from=${t0}&to=${t0 + 300_000}${query}`);

  beforeEach(async () => {
    store = await createRollupStore(live.redis, live.config);
    await store.addSamples(written.map((point) => ({ ...series, ...point })));
  });

  it('lists series a page at a time, each with its labels', async () => {
    await store.addSamples([
      { metric: 'humidity', source: 'sensor-1', timestampMs: t0, value: 1 },
      { metric: 'temperature', source: 'sensor-2', timestampMs: t0, value: 1 },
    ]);
    const first = await get('/api/ingest/series?limit=2');
    expect(first).toEqual({
      status: 200,
      body: {
        series: [
          { metric: 'humidity', source: 'sensor-1', labels: { metric: 'humidity', source: 'sensor-1' } },
          { metric: 'temperature', source: 'sensor-1', labels: { metric: 'temperature', source: 'sensor-1' } },
        ],
        next: 'temperature:sensor-1',
      },
    });
    const second = await get(`/api/ingest/series?limit=2&cursor=${encodeURIComponent(first.body.next)}`);
    expect(second.body).toEqual({
      series: [{ metric: 'temperature', source: 'sensor-2', labels: { metric: 'temperature', source: 'sensor-2' } }],
      next: null,
    });
    expect((await get('/api/ingest/series?source=sensor-2')).body.series).toHaveLength(1);
  });

  it('answers raw points between from and to, given as epoch milliseconds or ISO-8601', async () => {
    const { status, body } = await rangeOf('');
    expect(status).toBe(200);
    expect(body).toEqual({ ...series, from: t0, to: t0 + 300_000, aggregation: null, points: written });

    const iso = new Date(t0 + 61_000).toISOString();
    const sameInstantAtPlusOne = new Date(t0 + 125_000 + 3_600_000).toISOString().replace('Z', '+01:00');
    const byIso = await get(
      `/api/ingest/series/temperature/sensor-1/range?from=${iso}&to=${encodeURIComponent(sameInstantAtPlusOne)}`,
    );
    expect(byIso.body).toMatchObject({ from: t0 + 61_000, to: t0 + 125_000, points: written.slice(2, 5) });
    expect((await rangeOf('&limit=2')).body.points).toEqual(written.slice(0, 2));
  });

  it('covers the last hour up to now by default', async () => {
    const now = Date.now();
    await store.addSamples([
      { ...series, timestampMs: now - 30 * MINUTE, value: 1 },
      { ...series, timestampMs: now - 90 * MINUTE, value: 2 },
    ]);
    const { body } = await get('/api/ingest/series/temperature/sensor-1/range');
    expect(body.to).toBeGreaterThanOrEqual(now);
    expect(body.to).toBeLessThanOrEqual(Date.now());
    expect(body.from).toBe(body.to - 3_600_000);
    expect(body.points).toEqual([{ timestampMs: now - 30 * MINUTE, value: 1 }]);
  });

  it('reads a configured tier, open bucket included, and aggregates raw samples on the fly otherwise', async () => {
    const tier = await rangeOf('&agg=avg&bucket=1m');
    expect(tier.body.aggregation).toEqual({ type: 'avg', bucketMs: MINUTE, tier: true });
    expect(tier.body.points).toEqual(groupPoints(written, MINUTE, 'avg'));

    for (const [agg, bucket, bucketMs] of [
      ['max', '1m', MINUTE],
      ['avg', '120000', 2 * MINUTE],
      ['count', '5m', 5 * MINUTE],
    ] as const) {
      const { body } = await rangeOf(`&agg=${agg}&bucket=${bucket}`);
      expect(body.aggregation).toEqual({ type: agg, bucketMs, tier: false });
      expect(body.points).toEqual(groupPoints(written, bucketMs, agg));
    }
    expect((await rangeOf('&agg=max&bucket=1m&limit=2')).body.points).toEqual(
      groupPoints(written, MINUTE, 'max').slice(0, 2),
    );

    // Without the raw samples only the tier can still answer, which shows which path served each
    // query; the open bucket is computed from raw samples, so only the closed ones remain.
    await live.redis.del(createKeys(live.config.keys).raw(series));
    const closed = written.filter(({ timestampMs }) => timestampMs < t0 + 4 * MINUTE);
    expect((await rangeOf('&agg=avg&bucket=1m')).body.points).toEqual(groupPoints(closed, MINUTE, 'avg'));
    expect((await rangeOf('&agg=avg&bucket=2m')).body.points).toEqual([]);
  });

  it('reduces one metric across its sources with each reducer', async () => {
    const bySource: Record<string, TestPoint[]> = {
      a: [
        { timestampMs: t0 + 1_000, value: 4 },
        { timestampMs: t0 + 2_000, value: 8 },
        { timestampMs: t0 + 61_000, value: 1 },
      ],
      b: [
        { timestampMs: t0 + 30_000, value: -2 },
        { timestampMs: t0 + 150_000, value: 3.5 },
      ],
      c: [
        { timestampMs: t0 + 59_999, value: 10 },
        { timestampMs: t0 + 119_000, value: 0.5 },
        { timestampMs: t0 + 121_000, value: 6 },
      ],
    };
    await store.addSamples(
      Object.entries(bySource).flatMap(([source, points]) =>
        points.map((point) => ({ metric: 'load', source, ...point })),
      ),
    );
    const reduceAcross = (perSource: TestPoint[][], reduce: Reducer) => groupPoints(perSource.flat(), 1, reduce);

    for (const reduce of ['avg', 'min', 'max', 'sum'] as const) {
      const { status, body } = await get(
        `/api/ingest/metrics/load/range?from=${t0}&to=${t0 + 300_000}&agg=max&bucket=1m&reduce=${reduce}`,
      );
      expect(status).toBe(200);
      const perSource = Object.values(bySource).map((points) => groupPoints(points, MINUTE, 'max'));
      expect(body).toEqual({
        metric: 'load',
        reduce,
        aggregation: { type: 'max', bucketMs: MINUTE },
        sources: 3,
        points: reduceAcross(perSource, reduce),
      });
    }

    const defaults = await get(`/api/ingest/metrics/load/range?from=${t0}&to=${t0 + 300_000}`);
    const perSourceAvg = Object.values(bySource).map((points) => groupPoints(points, MINUTE, 'avg'));
    expect(defaults.body).toEqual({
      metric: 'load',
      reduce: 'avg',
      aggregation: { type: 'avg', bucketMs: MINUTE },
      sources: 3,
      points: reduceAcross(perSourceAvg, 'avg'),
    });
    expect((await get(`/api/ingest/metrics/unknown/range?from=${t0}&to=${t0 + MINUTE}`)).body).toMatchObject({
      sources: 0,
      points: [],
    });
  });

  it('refuses a metric with more sources than configured, naming it', async () => {
    await store.addSamples(
      ['a', 'b', 'c', 'd'].map((source) => ({ metric: 'wide', source, timestampMs: t0, value: 1 })),
    );
    const { status, body } = await get(`/api/ingest/metrics/wide/range?from=${t0}&to=${t0 + MINUTE}`);
    expect(status).toBe(400);
    expect(body.errors).toEqual([{ path: '/metric', message: expect.stringContaining('3') }]);
  });

  it('accepts a range of exactly the configured number of buckets', async () => {
    expect(
      (await get(`/api/ingest/series/temperature/sensor-1/range?from=0&to=${50 * MINUTE}&agg=avg&bucket=1m`)).status,
    ).toBe(200);
    expect((await get(`/api/ingest/metrics/temperature/range?from=0&to=${50 * MINUTE}`)).status).toBe(200);
  });

  it.each([
    ['/api/ingest/series/temperature/sensor-1/range?limit=51', '/limit'],
    ['/api/ingest/series/temperature/sensor-1/range?limit=0', '/limit'],
    ['/api/ingest/series/temperature/sensor-1/range?from=2000&to=1000', '/from'],
    ['/api/ingest/series/temperature/sensor-1/range?from=yesterday', '/from'],
    ['/api/ingest/series/temperature/sensor-1/range?to=2026-01-02T03:04:05', '/to'],
    ['/api/ingest/series/temperature/sensor-1/range?to=2026-02-30T00:00:00Z', '/to'],
    ['/api/ingest/series/temperature/sensor-1/range?agg=avg', '/bucket'],
    ['/api/ingest/series/temperature/sensor-1/range?bucket=1m', '/agg'],
    ['/api/ingest/series/temperature/sensor-1/range?agg=median&bucket=1m', '/agg'],
    ['/api/ingest/series/temperature/sensor-1/range?agg=avg&bucket=0', '/bucket'],
    ['/api/ingest/series/temperature/sensor-1/range?agg=avg&bucket=1w', '/bucket'],
    [`/api/ingest/series/temperature/sensor-1/range?from=0&to=${50 * 60_000 + 1}&agg=avg&bucket=1m`, '/bucket'],
    ['/api/ingest/series/temperature/sensor-1/range?colour=red', '/colour'],
    ['/api/ingest/series/temp%20c/sensor-1/range', '/metric'],
    ['/api/ingest/series/temperature/sensor%7B1%7D/range', '/source'],
    [`/api/ingest/metrics/load/range?from=0&to=${50 * 60_000 + 1}`, '/bucket'],
    ['/api/ingest/metrics/load/range?reduce=median', '/reduce'],
    ['/api/ingest/metrics/load/range?agg=max', '/bucket'],
    ['/api/ingest/metrics/load/range?limit=5', '/limit'],
    ['/api/ingest/metrics/lo%3Aad/range', '/metric'],
    ['/api/ingest/series?limit=101', '/limit'],
  ])('answers %s with a 400 naming %s', async (path, parameter) => {
    expectRefusal(await get(path), parameter);
  });

  it('describes every route in /openapi.json', async () => {
    const { status, body } = await get('/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    const routes = Object.entries(body.paths as Record<string, object>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /api/ingest/summary',
        'GET /api/ingest/events/recent',
        'GET /api/ingest/series',
        'GET /api/ingest/series/{metric}/{source}/range',
        'GET /api/ingest/metrics/{metric}/range',
        'GET /api/ingest/redis',
        'GET /api/ingest/dead-letters',
        'POST /api/ingest/dead-letters/replay',
        'POST /api/ingest/dead-letters/delete',
        'GET /api/ingest/rollups',
        'GET /api/ingest/stream',
      ].sort(),
    );
    const range = body.paths['/api/ingest/series/{metric}/{source}/range'].get;
    expect(
      range.parameters.map(({ name, in: location }: { name: string; in: string }) => `${location}:${name}`),
    ).toEqual(['path:metric', 'path:source', 'query:from', 'query:to', 'query:agg', 'query:bucket', 'query:limit']);
    expect(range.parameters.find(({ name }: { name: string }) => name === 'limit').schema.maximum).toBe(50);
    expect(
      body.paths['/api/ingest/dead-letters/replay'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('ids');
  });
});

describe('query-api dead letters', () => {
  const live = liveApi();
  const get = (path: string) => getJson(live.base, path);
  const post = (path: string, body: unknown) =>
    getJson(live.base, path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const failureOf = (i: number) => ({
    messageId: `${1_000 + i}-0`,
    reason: `bad value ${i}`,
    failedAt: `2026-01-01T00:00:0${i % 10}.000Z`,
    consumer: 'worker-1',
  });
  const payloadOf = (i: number) => ({
    source: 'sensor-1',
    metric: 'temperature',
    value: `hot-${i}`,
    occurredAt: '2026-01-01T00:00:00.000Z',
  });
  /** Dead-letters entries 0..count-1 as the worker writes them; returns their ids. */
  const deadLetter = async (count: number, history: Failure[] = []): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(
        await live.redis.xAdd(
          live.config.keys.deadLetterKey,
          '*',
          deadLetterFields(failureOf(i), payloadOf(i), history),
        ),
      );
    return ids;
  };
  const remainingIds = async () =>
    (await live.redis.xRange(live.config.keys.deadLetterKey, '-', '+')).map(({ id }) => id);

  it('lists dead letters newest first, a page at a time', async () => {
    const earlier = failureOf(9);
    const ids = await deadLetter(5, [earlier]);
    const pages: { id: string }[][] = [];
    let query = '?count=2';
    for (;;) {
      const { status, body } = await get(`/api/ingest/dead-letters${query}`);
      expect(status).toBe(200);
      pages.push(body.deadLetters);
      if (body.next === null) break;
      query = `?count=2&cursor=${body.next}`;
    }
    expect(pages.map((page) => page.map(({ id }) => id))).toEqual([[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]);
    expect(pages[0]![0]).toEqual({ id: ids[4], ...failureOf(4), payload: payloadOf(4), history: [earlier] });
    expect((await get('/api/ingest/dead-letters')).body.deadLetters).toHaveLength(5);
  });

  it('replays chosen dead letters onto the main stream with their history, reporting unknown ids', async () => {
    const ids = await deadLetter(4);
    const unknown = '1-1';
    const { status, body } = await post('/api/ingest/dead-letters/replay', { ids: [ids[2], unknown, ids[0]] });
    expect(status).toBe(200);
    expect(body).toEqual({ replayed: 2, ids: [expect.any(String), expect.any(String)], missing: [unknown] });

    const replayed = await live.redis.xRange(live.config.keys.streamKey, '-', '+');
    expect(replayed.map(({ id }) => id)).toEqual(body.ids);
    expect(replayed.map(({ message }) => message)).toEqual(
      [2, 0].map((i) => ({ ...payloadOf(i), deadLetterHistory: JSON.stringify([failureOf(i)]) })),
    );
    expect(await remainingIds()).toEqual([ids[1], ids[3]]);
  });

  it('replays an entry once however its id is spelled, and lists nothing below the first possible id', async () => {
    const [id] = await deadLetter(1);
    const { body } = await post('/api/ingest/dead-letters/replay', { ids: [id, `0${id}`] });
    expect(body).toEqual({ replayed: 1, ids: [expect.any(String)], missing: [] });
    expect(await live.redis.xLen(live.config.keys.streamKey)).toBe(1);
    expect(await get('/api/ingest/dead-letters?cursor=0-0')).toEqual({
      status: 200,
      body: { deadLetters: [], next: null },
    });
  });

  it('appends the latest failure to the history an entry already carries', async () => {
    const earlier = failureOf(7);
    const [id] = await deadLetter(1, [earlier]);
    await post('/api/ingest/dead-letters/replay', { ids: [id] });
    const [entry] = await live.redis.xRange(live.config.keys.streamKey, '-', '+');
    expect(JSON.parse(entry!.message.deadLetterHistory!)).toEqual([earlier, failureOf(0)]);
  });

  it('replays all dead letters over several pages, in order', async () => {
    const count = REPLAY_PAGE_SIZE * 2 + 3;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        live.redis.xAdd(live.config.keys.deadLetterKey, '*', deadLetterFields(failureOf(i), payloadOf(i), [])),
      ),
    );
    const { status, body } = await post('/api/ingest/dead-letters/replay', { all: true });
    expect(status).toBe(200);
    expect(body.replayed).toBe(count);
    const replayed = await live.redis.xRange(live.config.keys.streamKey, '-', '+');
    expect(replayed.map(({ id }) => id)).toEqual(body.ids);
    expect(replayed.map(({ message }) => message.value)).toEqual(Array.from({ length: count }, (_, i) => `hot-${i}`));
    expect(await live.redis.xLen(live.config.keys.deadLetterKey)).toBe(0);
    expect((await post('/api/ingest/dead-letters/replay', { all: true })).body).toEqual({
      replayed: 0,
      ids: [],
      missing: [],
    });
  });

  it('deletes chosen dead letters, then all the rest', async () => {
    const ids = await deadLetter(5);
    expect((await post('/api/ingest/dead-letters/delete', { ids: [ids[1], ids[3], '5-5'] })).body).toEqual({
      deleted: 2,
      missing: ['5-5'],
    });
    expect(await remainingIds()).toEqual([ids[0], ids[2], ids[4]]);
    expect((await post('/api/ingest/dead-letters/delete', { all: true })).body).toEqual({ deleted: 3, missing: [] });
    expect(await live.redis.xLen(live.config.keys.deadLetterKey)).toBe(0);
    expect(await live.redis.xLen(live.config.keys.streamKey)).toBe(0);
    expect((await post('/api/ingest/dead-letters/delete', { all: true })).body).toEqual({ deleted: 0, missing: [] });
  });

  it.each([
    [{}, '/'],
    [{ ids: [] }, '/ids'],
    [{ ids: ['x'] }, '/ids/0'],
    [{ ids: ['1-0', '1-0'] }, '/ids'],
    [{ ids: Array.from({ length: 1_001 }, (_, i) => `${i}-0`) }, '/ids'],
    [{ all: false }, '/all'],
    [{ ids: ['1-0'], all: true }, '/'],
    [{ every: true }, '/every'],
    [[], '/'],
  ])('refuses the body %j naming %s', async (body, parameter) => {
    for (const action of ['replay', 'delete']) {
      const response = await post(`/api/ingest/dead-letters/${action}`, body);
      expect(response.status).toBe(400);
      expect(response.body.errors.map(({ path }: { path: string }) => path || '/')).toContain(parameter);
    }
  });

  it('refuses a request without a body, and bad listing parameters', async () => {
    const bare = await getJson(live.base, '/api/ingest/dead-letters/replay', { method: 'POST' });
    expect(bare.status).toBe(400);
    expectRefusal(await get('/api/ingest/dead-letters?cursor=abc'), '/cursor');
    expectRefusal(await get('/api/ingest/dead-letters?count=101'), '/count');
  });
});
