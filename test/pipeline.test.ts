import { createKeys, createRedisClient, loadPipelineConfig, type RedisClient } from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import { eventually, isolatedEnv, startRedisCluster, testRedisUrl, type RedisCluster } from '@redis-ingest/test-utils';
import { loadIngestConfig } from '../apps/ingest-api/src/config';
import { start as startIngest, type RunningIngestApi } from '../apps/ingest-api/src/server';
import { loadQueryConfig } from '../apps/query-api/src/config';
import { start as startQuery } from '../apps/query-api/src/server';
import { loadWorkerConfig } from '../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../apps/worker/src/service';

const silent = createLogger('test', 'silent');

interface Summary {
  queue: { total: number; pending: number; dead_lettered: number; lag: number; consumers: number };
  metrics: {
    metric: string;
    source: string;
    raw: { timestampMs: number; value: number } | null;
    rollup: { timestampMs: number; value: number } | null;
  }[];
  next: string | null;
}

const at = (iso: string) => ({ occurredAt: iso, ms: Date.parse(iso) });

/** The same pipeline on one Redis with today's keys, and on a three-primary cluster with three stream partitions. */
describe.each([
  ['on a single Redis', false],
  ['on a Redis Cluster with three stream partitions', true],
])('the pipeline end to end %s', (_, onCluster) => {
  let cluster: RedisCluster | undefined;
  let env: Record<string, string>;
  let redis: RedisClient;
  let ingest: RunningIngestApi;
  let worker: RunningWorker;
  let query: { port: number; stop(): Promise<void> };

  beforeAll(async () => {
    if (onCluster) cluster = await startRedisCluster({ primaries: 3 });
    env = isolatedEnv(testRedisUrl(), {
      INGEST_API_PORT: '0',
      INGEST_API_HOST: '127.0.0.1',
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      WORKER_ADMIN_PORT: '0',
      WORKER_BLOCK_MS: '100',
      WORKER_READ_COUNT: '7',
      INGEST_ROLLUP_BUCKET_MS: '60000',
      ...(cluster
        ? { REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(','), INGEST_STREAM_PARTITIONS: '3' }
        : {}),
    });
    redis = createRedisClient(loadPipelineConfig(env).redis, { name: 'pipeline-test', logger: silent });
    await redis.connect();
    [ingest, worker, query] = await Promise.all([
      startIngest(loadIngestConfig(env), silent),
      startWorker(loadWorkerConfig(env), silent),
      startQuery(loadQueryConfig(env), silent),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([ingest?.stop(), worker?.close(), query?.stop()]);
    redis?.destroy();
    await cluster?.stop();
  });

  const post = async (body: unknown) => {
    const response = await fetch(`http://127.0.0.1:${ingest.port}/api/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const get = async <T>(path: string): Promise<T> =>
    (await fetch(`http://127.0.0.1:${query.port}${path}`)).json() as Promise<T>;

  it('turns posted events into raw and rollup values, and malformed entries into dead letters', async () => {
    // sensor-1's temperature spans two one-minute buckets, so its first bucket closes.
    const temperature = [
      { ...at('2026-03-01T10:00:05Z'), value: 10 },
      { ...at('2026-03-01T10:00:30Z'), value: 20.5 },
      { ...at('2026-03-01T10:00:59.999Z'), value: 33 },
      { ...at('2026-03-01T10:01:10Z'), value: 7 },
    ];
    // sensor-2 stays inside one bucket: its rollup must stay null.
    const otherSource = [
      { ...at('2026-03-01T10:00:01Z'), value: 1 },
      { ...at('2026-03-01T10:00:02Z'), value: 2 },
    ];
    const humidity = Array.from({ length: 20 }, (_, i) => ({
      ...at(new Date(Date.parse('2026-03-01T09:58:00Z') + i * 10_000).toISOString()),
      value: 40 + i,
    }));

    for (const { occurredAt, value } of temperature) {
      expect((await post({ source: 'sensor-1', metric: 'temperature', value, occurredAt })).status).toBe(202);
    }
    const batch = await post([
      ...otherSource.map(({ occurredAt, value }) => ({ source: 'sensor-2', metric: 'temperature', value, occurredAt })),
      ...humidity.map(({ occurredAt, value }) => ({ source: 'sensor-1', metric: 'humidity', value, occurredAt })),
    ]);
    expect(batch.status).toBe(202);
    expect(batch.body.accepted).toBe(22);

    // Anything can XADD to the stream; the worker must validate again.
    const malformed: Record<string, string>[] = [
      { source: 'sensor-1', metric: 'temperature', value: 'hot', occurredAt: '2026-03-01T10:00:00Z' },
      { source: 'sensor-1', metric: 'temperature', value: '1' },
      { source: 'a{b}', metric: 'temperature', value: '1', occurredAt: '2026-03-01T10:00:00Z' },
    ];
    const keys = createKeys(loadPipelineConfig(env).keys);
    const malformedIds: string[] = [];
    for (const fields of malformed) {
      malformedIds.push(await redis.xAdd(keys.partitionFor(fields.source!).stream, '*', fields));
      // Partitions number entries independently; distinct milliseconds keep "newest first" unambiguous.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }

    const total = temperature.length + otherSource.length + humidity.length + malformed.length;
    let summary = await get<Summary>('/api/ingest/summary');
    await eventually(
      async () => {
        summary = await get<Summary>('/api/ingest/summary');
        return (
          summary.queue.lag === 0 && summary.queue.pending === 0 && summary.queue.dead_lettered >= malformed.length
        );
      },
      10_000,
      'every entry processed',
    );

    expect(summary.queue).toEqual({ total, pending: 0, dead_lettered: malformed.length, lag: 0, consumers: 1 });
    if (onCluster) expect(keys.partitions).toHaveLength(3);

    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const last = <T>(items: T[]) => items[items.length - 1]!;
    const humidityClosed = humidity.filter(({ ms }) => ms < Date.parse('2026-03-01T10:01:00Z'));
    const lastClosedHumidityBucket = Math.floor(last(humidityClosed).ms / 60_000) * 60_000;
    expect(summary.metrics).toEqual([
      {
        metric: 'humidity',
        source: 'sensor-1',
        raw: { timestampMs: last(humidity).ms, value: last(humidity).value },
        rollup: {
          timestampMs: lastClosedHumidityBucket,
          value: mean(
            humidity
              .filter(({ ms }) => ms >= lastClosedHumidityBucket && ms < lastClosedHumidityBucket + 60_000)
              .map(({ value }) => value),
          ),
        },
      },
      {
        metric: 'temperature',
        source: 'sensor-1',
        raw: { timestampMs: last(temperature).ms, value: 7 },
        rollup: { timestampMs: Date.parse('2026-03-01T10:00:00Z'), value: mean([10, 20.5, 33]) },
      },
      { metric: 'temperature', source: 'sensor-2', raw: { timestampMs: last(otherSource).ms, value: 2 }, rollup: null },
    ]);

    const byMessageId = (x: { message: Record<string, string> }, y: { message: Record<string, string> }) =>
      malformedIds.indexOf(x.message.messageId!) - malformedIds.indexOf(y.message.messageId!);
    const deadLetters = (
      await Promise.all(keys.partitions.map((partition) => redis.xRange(partition.deadLetter, '-', '+')))
    )
      .flat()
      .sort(byMessageId);
    expect(deadLetters.map(({ message }) => message.messageId)).toEqual(malformedIds);
    deadLetters.forEach(({ message }, i) => {
      expect(JSON.parse(message.payload!)).toEqual(malformed[i]);
      expect(message.consumer).toBe(worker.consumer);
      expect(Date.parse(message.failedAt!)).not.toBeNaN();
    });
    expect(deadLetters.map(({ message }) => message.reason)).toEqual([
      expect.stringContaining('/value'),
      expect.stringContaining('/occurredAt'),
      expect.stringContaining('/source'),
    ]);

    const recent = await get<{ events: { id: string; value: unknown }[] }>('/api/ingest/events/recent?count=2');
    expect(recent.events.map((event) => event.id)).toEqual([malformedIds[2], malformedIds[1]]);
  });
});
