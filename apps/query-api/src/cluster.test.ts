import {
  bucketStart,
  createKeys,
  createRedisClient,
  createRollupStore,
  deadLetterFields,
  type Keys,
  type RedisClient,
  type RollupStore,
  type Sample,
  type StreamPartition,
} from '@redis-ingest/redis-schema';
import { isolatedEnv, startRedisCluster, testRedisUrl, waitUntil, type RedisCluster } from '@redis-ingest/test-utils';
import { loadQueryConfig, type QueryConfig } from './config';
import { start, type RunningQueryApi } from './server';

/**
 * The query-api on a stream of three partitions, as a Redis Cluster of three primaries holds it
 * (one partition on each) and as a single server does.
 */

const silent = { warn: () => undefined };
const PARTITIONS = 3;
const MINUTE = 60_000;

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3 });
}, 30_000);
afterAll(() => cluster?.stop());

interface Topology {
  readonly name: string;
  /** Over how many primaries the partitions and the series written here spread, and in words. */
  readonly shards: number;
  readonly placement: string;
  readonly env: () => Record<string, string>;
  /** How many primaries hold these keys. */
  readonly shardsHolding: (keys: readonly string[]) => Promise<number>;
}

const topologies: Topology[] = [
  {
    name: 'a Redis Cluster of three primaries',
    shards: 3,
    placement: 'three primaries',
    env: () =>
      isolatedEnv(cluster.nodes[0]!.url, { REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(',') }),
    shardsHolding: async (keys) =>
      new Set(await Promise.all(keys.map(async (key) => (await cluster.primaryFor(key)).port))).size,
  },
  {
    name: 'a single server',
    shards: 1,
    placement: 'one server',
    env: () => isolatedEnv(testRedisUrl()),
    shardsHolding: async () => 1,
  },
];

/** `count` source names whose events go to `partition`. */
function sourcesIn(keys: Keys, partition: StreamPartition, count: number): string[] {
  const sources: string[] = [];
  for (let n = 0; sources.length < count; n++) {
    if (keys.partitionFor(`device-${n}`) === partition) sources.push(`device-${n}`);
  }
  return sources;
}

interface Answer {
  readonly status: number;
  readonly body: any;
}

describe.each(topologies)('query-api with three stream partitions on $name', (topology) => {
  let redis: RedisClient;
  let config: QueryConfig;
  let keys: Keys;
  let api: RunningQueryApi;
  let base: string;

  const get = async (path: string): Promise<Answer> => {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, body: await response.json() };
  };
  const post = async (path: string, body: unknown): Promise<Answer> => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };

  const partition = (index: number) => keys.partitions[index]!;
  /** An event of a source that belongs to the partition, as the ingest-api would have written it there. */
  const eventIn = (index: number, value: string) => ({
    source: sourcesIn(keys, partition(index), 1)[0]!,
    metric: 'temperature',
    value,
    occurredAt: '2026-01-01T00:00:00.000Z',
  });
  const addEvents = async (index: number, count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await redis.xAdd(partition(index).stream, '*', eventIn(index, String(i))));
    return ids;
  };
  const failure = (tag: string) => ({
    messageId: `${tag}-0`,
    reason: `bad ${tag}`,
    failedAt: '2026-01-01T00:00:01.000Z',
    consumer: 'worker-1',
  });
  const addDeadLetter = (index: number, id: string, tag = `${index}/${id}`) =>
    redis.xAdd(partition(index).deadLetter, id, deadLetterFields(failure(tag), eventIn(index, tag), []));
  const idsIn = async (key: string) => (await redis.xRange(key, '-', '+')).map(({ id }) => id);

  beforeAll(async () => {
    const target = loadQueryConfig(topology.env()).redis;
    redis = createRedisClient(target, { name: 'query-api-partitions-test', logger: silent, commandTimeoutMs: 2_000 });
    await redis.connect();
  });
  afterAll(() => redis?.destroy());
  beforeEach(async () => {
    config = loadQueryConfig({
      ...topology.env(),
      INGEST_STREAM_PARTITIONS: String(PARTITIONS),
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_ROLLUP_BACKEND: 'native',
      INGEST_ROLLUPS: '1m:avg',
    });
    keys = createKeys(config.keys);
    api = await start(config);
    base = `http://127.0.0.1:${api.port}`;
  });
  afterEach(() => api.stop());

  it(`places the partitions on ${topology.placement}`, async () => {
    expect(await topology.shardsHolding(keys.partitions.map(({ stream }) => stream))).toBe(topology.shards);
  });

  it('adds the queue up over the partitions, shows each one, and exports the sums and readiness', async () => {
    const plan = [
      { added: 4, reads: [['worker-1', 3]], acked: 1, dead: 1 },
      {
        added: 6,
        reads: [
          ['worker-1', 2],
          ['worker-2', 2],
        ],
        acked: 3,
        dead: 0,
      },
      { added: 5, reads: [], acked: 0, dead: 2 },
    ] as const;
    for (const [index, { added, reads, acked, dead }] of plan.entries()) {
      const { stream } = partition(index);
      const ids = await addEvents(index, added);
      await redis.xGroupCreate(stream, config.consumerGroup, '0');
      for (const [consumer, count] of reads)
        await redis.xReadGroup(config.consumerGroup, consumer, { key: stream, id: '>' }, { COUNT: count });
      if (acked > 0) await redis.xAck(stream, config.consumerGroup, ids.slice(0, acked));
      for (let i = 0; i < dead; i++) await addDeadLetter(index, '*', `dead-${i}`);
    }
    const expected = plan.map(({ added, reads, acked, dead }, index) => {
      const delivered = reads.reduce((sum, [, count]) => sum + count, 0);
      return {
        partition: index,
        total: added,
        pending: delivered - acked,
        dead_lettered: dead,
        lag: added - delivered,
        consumers: reads.length,
      };
    });

    const { status, body } = await get('/api/ingest/summary');
    expect(status).toBe(200);
    expect(body).toEqual({
      queue: { total: 15, pending: 2 + 1 + 0, dead_lettered: 3, lag: 1 + 2 + 5, consumers: 2 },
      partitions: expected,
      metrics: [],
      next: null,
    });

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^telemetry_stream_length 15$/m);
    expect(metrics).toMatch(/^telemetry_stream_pending 3$/m);
    expect(metrics).toMatch(/^telemetry_stream_lag 8$/m);
    expect(metrics).toMatch(/^telemetry_dead_letter_length 3$/m);
    expect(await get('/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('lists recent events newest first across the partitions, equal ids in partition order', async () => {
    const written: [number, string][] = [
      [0, '1000-0'],
      [1, '1001-0'],
      [2, '1002-0'],
      [0, '1003-0'],
      [2, '1003-0'],
      [1, '1005-0'],
      [0, '1006-0'],
    ];
    for (const [index, id] of written) await redis.xAdd(partition(index).stream, id, eventIn(index, `p${index}`));
    const listed = async (query: string) =>
      (await get(`/api/ingest/events/recent${query}`)).body.events.map(
        ({ id, value }: { id: string; value: string }) => `${value}@${id}`,
      );

    expect(await listed('?count=5')).toEqual(['p0@1006-0', 'p1@1005-0', 'p0@1003-0', 'p2@1003-0', 'p2@1002-0']);
    expect(await listed('')).toEqual([
      'p0@1006-0',
      'p1@1005-0',
      'p0@1003-0',
      'p2@1003-0',
      'p2@1002-0',
      'p1@1001-0',
      'p0@1000-0',
    ]);
    const [newest] = (await get('/api/ingest/events/recent?count=1')).body.events;
    expect(newest).toEqual({ id: '1006-0', ...eventIn(0, 'p0') });
  });

  it('pages through the dead letters of every partition newest first, with no entry twice', async () => {
    const written: [number, string][] = [
      [0, '300-0'],
      [0, '600-0'],
      [0, '800-0'],
      [1, '200-0'],
      [1, '500-0'],
      [1, '900-0'],
      [2, '400-0'],
      [2, '600-0'],
    ];
    for (const [index, id] of written) await addDeadLetter(index, id);

    const pages: string[][] = [];
    let query = '?count=3';
    for (;;) {
      const { status, body } = await get(`/api/ingest/dead-letters${query}`);
      expect(status).toBe(200);
      pages.push(body.deadLetters.map(({ id }: { id: string }) => id));
      if (body.next === null || pages.length > 5) break;
      query = `?count=3&cursor=${encodeURIComponent(body.next)}`;
    }
    // The first page ends between two entries of equal id, which the cursor must tell apart.
    expect(pages).toEqual([
      ['1:900-0', '0:800-0', '0:600-0'],
      ['2:600-0', '1:500-0', '2:400-0'],
      ['0:300-0', '1:200-0'],
    ]);

    const { body } = await get('/api/ingest/dead-letters?count=1');
    expect(body.deadLetters).toEqual([
      { id: '1:900-0', ...failure('1/900-0'), payload: eventIn(1, '1/900-0'), history: [] },
    ]);
    // A bare stream id starts below it in every partition.
    const below = await get('/api/ingest/dead-letters?count=10&cursor=600-0');
    expect(below.body.deadLetters.map(({ id }: { id: string }) => id)).toEqual([
      '1:500-0',
      '2:400-0',
      '0:300-0',
      '1:200-0',
    ]);
  });

  it('replays and deletes chosen dead letters in their own partition only', async () => {
    await addDeadLetter(0, '700-0');
    await addDeadLetter(1, '700-0');
    await addDeadLetter(1, '702-0');
    await addDeadLetter(2, '701-0');

    const replay = await post('/api/ingest/dead-letters/replay', { ids: ['1:700-0', '2:701-0', '0:999-0', '7:700-0'] });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({
      replayed: 2,
      ids: [expect.stringMatching(/^1:/), expect.stringMatching(/^2:/)],
      missing: ['0:999-0', '7:700-0'],
    });
    for (const [index, ref, tag] of [
      [1, replay.body.ids[0], '1/700-0'],
      [2, replay.body.ids[1], '2/701-0'],
    ] as const) {
      const [entry, ...others] = await redis.xRange(partition(index).stream, '-', '+');
      expect(others).toEqual([]);
      expect(`${index}:${entry!.id}`).toBe(ref);
      expect(entry!.message).toEqual({ ...eventIn(index, tag), deadLetterHistory: JSON.stringify([failure(tag)]) });
    }
    expect(await redis.xLen(partition(0).stream)).toBe(0);
    expect(await Promise.all(keys.partitions.map(({ deadLetter }) => idsIn(deadLetter)))).toEqual([
      ['700-0'],
      ['702-0'],
      [],
    ]);

    for (const action of ['replay', 'delete']) {
      const bare = await post(`/api/ingest/dead-letters/${action}`, { ids: ['0:700-0', '700-0'] });
      expect(bare.status).toBe(400);
      expect(bare.body.errors).toEqual([{ path: '/ids/1', message: expect.stringContaining('partition') }]);
    }
    expect((await post('/api/ingest/dead-letters/delete', { ids: ['1:702-0', '1:700-0'] })).body).toEqual({
      deleted: 1,
      missing: ['1:700-0'],
    });
    expect(await Promise.all(keys.partitions.map(({ deadLetter }) => idsIn(deadLetter)))).toEqual([['700-0'], [], []]);
  });

  it('replays all dead letters into their partitions, then deletes all of every partition', async () => {
    const counts = [2, 0, 3];
    for (const [index, count] of counts.entries())
      for (let i = 0; i < count; i++) await addDeadLetter(index, '*', `${index}/${i}`);

    const { body } = await post('/api/ingest/dead-letters/replay', { all: true });
    expect(body.replayed).toBe(5);
    expect(body.missing).toEqual([]);
    expect(body.ids.map((ref: string) => ref.split(':')[0])).toEqual(['0', '0', '2', '2', '2']);
    for (const [index, count] of counts.entries()) {
      const entries = await redis.xRange(partition(index).stream, '-', '+');
      expect(entries.map(({ message }) => message.value)).toEqual(
        Array.from({ length: count }, (_, i) => `${index}/${i}`),
      );
      expect(entries.map(({ id }) => `${index}:${id}`)).toEqual(
        body.ids.filter((ref: string) => ref.startsWith(`${index}:`)),
      );
      expect(await redis.xLen(partition(index).deadLetter)).toBe(0);
    }

    for (const [index, count] of [1, 4, 2].entries()) for (let i = 0; i < count; i++) await addDeadLetter(index, '*');
    expect((await post('/api/ingest/dead-letters/delete', { all: true })).body).toEqual({ deleted: 7, missing: [] });
    expect(await Promise.all(keys.partitions.map(({ deadLetter }) => redis.xLen(deadLetter)))).toEqual([0, 0, 0]);
    expect(await Promise.all(keys.partitions.map(({ stream }) => redis.xLen(stream)))).toEqual(counts);
  });

  it('adds the stream counters of the partitions up, the newest last id among them', async () => {
    expect((await get('/api/ingest/stream')).body).toEqual({
      length: 0,
      entriesAdded: 0,
      lastId: null,
      readAtMs: expect.any(Number),
    });
    for (const id of ['10-0', '20-0', '30-0']) await redis.xAdd(partition(0).stream, id, eventIn(0, id));
    for (const id of ['5-0', '15-0', '25-0', '35-0']) await redis.xAdd(partition(1).stream, id, eventIn(1, id));
    await redis.xTrim(partition(1).stream, 'MAXLEN', 1);
    expect((await get('/api/ingest/stream')).body).toEqual({
      length: 4,
      entriesAdded: 7,
      lastId: '35-0',
      readAtMs: expect.any(Number),
    });
  });

  describe('series', () => {
    const t0 = bucketStart(Date.now() - 3 * 3_600_000, 3_600_000);
    const sources = Array.from({ length: 8 }, (_, i) => `host-${i}`);
    // One sample per minute per source, so each source's bucket is that sample.
    const cpu: Sample[] = sources.flatMap((source, s) =>
      Array.from({ length: 4 }, (_, minute) => ({
        metric: 'cpu',
        source,
        timestampMs: t0 + minute * MINUTE + 1_000 * s,
        value: s * 10 + minute,
      })),
    );
    let store: RollupStore;

    beforeEach(async () => {
      store = await createRollupStore(redis, config);
      expect(
        (await store.addSamples([...cpu, { metric: 'mem', source: 'host-0', timestampMs: t0, value: 512 }])).every(
          ({ ok }) => ok,
        ),
      ).toBe(true);
    });

    it(`places the series on ${topology.placement}`, async () => {
      expect(await topology.shardsHolding(sources.map((source) => keys.raw({ metric: 'cpu', source })))).toBe(
        topology.shards,
      );
    });

    it('lists the series a page at a time and summarises their latest points', async () => {
      const first = await get('/api/ingest/series?metric=cpu&limit=5');
      const second = await get(`/api/ingest/series?metric=cpu&limit=5&cursor=${encodeURIComponent(first.body.next)}`);
      expect(second.body.next).toBeNull();
      expect([...first.body.series, ...second.body.series].map(({ source }: { source: string }) => source)).toEqual(
        sources,
      );

      const summary = (await get('/api/ingest/summary?source=host-0')).body;
      expect(summary.metrics).toEqual([
        {
          metric: 'cpu',
          source: 'host-0',
          raw: { timestampMs: t0 + 3 * MINUTE, value: 3 },
          rollup: { timestampMs: t0 + 2 * MINUTE, value: 2 },
        },
        { metric: 'mem', source: 'host-0', raw: { timestampMs: t0, value: 512 }, rollup: null },
      ]);
    });

    it('answers ranges of one series and of a metric across all its sources', async () => {
      const window = `from=${t0}&to=${t0 + 10 * MINUTE}`;
      const host5 = cpu
        .filter(({ source }) => source === 'host-5')
        .map(({ timestampMs, value }) => ({ timestampMs, value }));
      expect((await get(`/api/ingest/series/cpu/host-5/range?${window}`)).body.points).toEqual(host5);
      const buckets = (await get(`/api/ingest/series/cpu/host-5/range?${window}&agg=avg&bucket=1m`)).body;
      expect(buckets.aggregation).toEqual({ type: 'avg', bucketMs: MINUTE, tier: true });
      expect(buckets.points).toEqual(
        host5.map(({ timestampMs, value }) => ({ timestampMs: bucketStart(timestampMs, MINUTE), value })),
      );

      const sum = (await get(`/api/ingest/metrics/cpu/range?${window}&agg=max&bucket=1m&reduce=sum`)).body;
      const perMinute = (minute: number) => sources.reduce((total, _, s) => total + s * 10 + minute, 0);
      expect(sum).toEqual({
        metric: 'cpu',
        reduce: 'sum',
        aggregation: { type: 'max', bucketMs: MINUTE },
        sources: sources.length,
        points: [0, 1, 2, 3].map((minute) => ({ timestampMs: t0 + minute * MINUTE, value: perMinute(minute) })),
      });
    });

    it('serves what the dashboard polls', async () => {
      await addEvents(2, 3);
      const [summary, counters, rollups] = await Promise.all([
        get('/api/ingest/summary?limit=1'),
        get('/api/ingest/stream'),
        get('/api/ingest/rollups'),
      ]);
      expect(summary.body).toMatchObject({ queue: { total: 3, lag: 0, consumers: 0 }, next: 'cpu:host-0' });
      expect(summary.body.partitions.map(({ total }: { total: number }) => total)).toEqual([0, 0, 3]);
      expect(counters.body).toMatchObject({ length: 3, entriesAdded: 3 });
      expect(rollups.body).toEqual({
        backend: 'native',
        rawRetentionMs: config.rawRetentionMs,
        tiers: [{ aggregation: 'avg', bucketMs: MINUTE, retentionMs: expect.any(Number) }],
      });
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    });
  });
});

describe('query-api readiness on a Redis Cluster', () => {
  it('turns unready once the primary of one partition is gone, and answers 503 rather than the other partitions alone', async () => {
    const config = loadQueryConfig(
      isolatedEnv(cluster.nodes[0]!.url, {
        REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(','),
        INGEST_STREAM_PARTITIONS: String(PARTITIONS),
        QUERY_API_PORT: '0',
        QUERY_API_HOST: '127.0.0.1',
        INGEST_ROLLUP_BACKEND: 'native',
      }),
    );
    const api = await start(config);
    const status = (path: string) => fetch(`http://127.0.0.1:${api.port}${path}`).then((response) => response.status);
    try {
      expect(await status('/readyz')).toBe(200);
      expect(await status('/api/ingest/events/recent')).toBe(200);
      await (await cluster.primaryFor(createKeys(config.keys).partitions[1]!.stream)).kill();
      await waitUntil(async () => (await status('/readyz')) === 503, 5_000, '/readyz to answer 503');
      for (const path of [
        '/api/ingest/summary',
        '/api/ingest/events/recent',
        '/api/ingest/dead-letters',
        '/api/ingest/stream',
      ]) {
        expect([path, await status(path)]).toEqual([path, 503]);
      }
    } finally {
      await api.stop();
    }
  });
});
