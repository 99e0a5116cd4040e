import {
  bucketStart,
  createRedisClient,
  createRollupStore,
  type RedisClient,
  type RollupStore,
  type Sample,
} from '@redis-ingest/redis-schema';
import { freePort, isolatedEnv, startRedisServer, testRedisUrl } from '@redis-ingest/test-utils';
import { loadQueryConfig, type QueryConfig } from './config';
import { LAG_COUNT_LIMIT, parseGroupsReply } from './queue-stats';
import { start, type RunningQueryApi } from './server';

function queryConfig(redisUrl: string): QueryConfig {
  return loadQueryConfig(
    isolatedEnv(redisUrl, { QUERY_API_PORT: '0', QUERY_API_HOST: '127.0.0.1', INGEST_ROLLUP_BACKEND: 'native' }),
  );
}

const connectedClient = async (url: string): Promise<RedisClient> => {
  const client = createRedisClient(url, { name: 'query-api-test', logger: { warn: () => undefined } });
  await client.connect();
  return client;
};

async function getJson(base: string, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  return { status: response.status, body: await response.json() };
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
    for (let i = 0; i < count; i++) ids.push(await redis.xAdd(key, '*', streamFields('sensor-1', 'temperature', value(i))));
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
    const [group] = parseGroupsReply((await redis.sendCommand(['XINFO', 'GROUPS', streamKey])) as never);
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
      { ...series, raw: { timestampMs: t0 + bucketMs + 500, value: 7 }, rollup: { timestampMs: t0, value: (10 + 20) / 2 } },
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
    expect(bySource.metrics.map(({ metric, source }: { metric: string; source: string }) => `${metric}/${source}`)).toEqual([
      'cpu/s1',
      'disk/s1',
      'mem/s1',
    ]);
    expect(bySource.metrics.map(({ raw }: { raw: { value: number } }) => raw.value)).toEqual([
      written('cpu', 's1'),
      written('disk', 's1'),
      written('mem', 's1'),
    ]);
    expect(bySource.next).toBeNull();

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
    ['/api/ingest/summary?page=2', '/page'],
    ['/api/ingest/events/recent?count=101', '/count'],
    ['/api/ingest/events/recent?count=-1', '/count'],
    ['/api/ingest/events/recent?limit=5', '/limit'],
  ])('answers %s with a 400 naming %s', async (path, parameter) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body.error).toContain(parameter);
    expect(body.errors.map((error: { path: string }) => error.path)).toContain(parameter);
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

      const deadline = Date.now() + 10_000;
      let answer = await getJson(base, '/api/ingest/summary');
      while (answer.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        answer = await getJson(base, '/api/ingest/summary');
      }
      expect(answer.status).toBe(200);
      expect(answer.body.metrics).toEqual([{ ...series, raw: { timestampMs: expect.any(Number), value: 3 }, rollup: null }]);
    } finally {
      writer?.destroy();
      await api.stop();
      await server.stop();
    }
  });
});
