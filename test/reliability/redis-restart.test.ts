import { createRedisClient, type RedisClient } from '@redis-ingest/redis-schema';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import type { RunningIngestApi } from '../../apps/ingest-api/src/server';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../../apps/worker/src/service';
import {
  T0,
  eventually,
  pipelineEnv,
  postEvents,
  silent,
  sleep,
  startIngestApi,
  telemetryEvent,
  type PostResult,
} from './support';

const BATCH = 10;

describe('Redis stopped and restarted during ingest', () => {
  let server: RedisServer;
  let ingest: RunningIngestApi | undefined;
  let worker: RunningWorker | undefined;
  let client: RedisClient | undefined;

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  });
  afterAll(async () => {
    await ingest?.stop();
    await worker?.close();
    client?.destroy();
    await server?.stop();
  });

  it('answers 503 quickly while Redis is down, keeps every 2xx event, and the worker drains them all', async () => {
    const env = pipelineEnv(server.url, {
      INGEST_ROLLUP_BACKEND: 'native',
      WORKER_RECLAIM_IDLE_MS: '1000',
      WORKER_RECLAIM_INTERVAL_MS: '200',
    });
    ingest = await startIngestApi(env);
    worker = await startWorker(loadWorkerConfig(env), silent);

    let next = 0;
    const acceptedEvents: ReturnType<typeof telemetryEvent>[] = [];
    const postBatch = async (): Promise<PostResult> => {
      const events = Array.from({ length: BATCH }, () => {
        const k = next++;
        return telemetryEvent(`device-${k % 5}`, k, T0 + k * 1_000);
      });
      const result = await postEvents(ingest!.port, events);
      if (result.status === 202) acceptedEvents.push(...events);
      return result;
    };

    for (let i = 0; i < 30; i++) expect((await postBatch()).status).toBe(202);

    await server.kill();
    const duringOutage: PostResult[] = [];
    const outageEnds = Date.now() + 1_500;
    while (Date.now() < outageEnds) {
      duringOutage.push(await postBatch());
      await sleep(20);
    }
    await server.restart();

    const afterRestart: PostResult[] = [];
    await eventually(
      async () => {
        afterRestart.push(await postBatch());
        return afterRestart.filter(({ status }) => status === 202).length >= 30;
      },
      15_000,
      'ingest accepting again',
    );

    expect(duringOutage.length).toBeGreaterThan(5);
    for (const result of duringOutage) {
      expect(result.status).toBe(503);
      expect(result.durationMs).toBeLessThan(1_500);
    }
    for (const result of afterRestart) {
      expect([202, 503]).toContain(result.status);
      expect(result.durationMs).toBeLessThan(1_500);
    }

    client = createRedisClient(server.url, { name: 'restart-test', logger: silent });
    await client.connect();
    await eventually(
      async () => {
        const [group] = await client!.xInfoGroups(env.INGEST_STREAM_KEY!);
        return group!.lag === 0 && group!.pending === 0;
      },
      20_000,
      'the worker drained the stream',
    );
    const store = worker.context.store;
    for (let source = 0; source < 5; source++) {
      const expected = acceptedEvents
        .filter((event) => event.source === `device-${source}`)
        .map(({ value, occurredAt }) => ({ timestampMs: Date.parse(occurredAt), value }))
        .sort((a, b) => a.timestampMs - b.timestampMs);
      const points = await store.range(
        { source: `device-${source}`, metric: 'load' },
        { fromMs: T0, toMs: T0 + next * 1_000, limit: 10_000 },
      );
      // A request cut off by the kill may have been written although it was answered 503; that is allowed.
      expect(points).toEqual(expect.arrayContaining(expected));
    }
    expect(acceptedEvents.length).toBeGreaterThanOrEqual(60 * BATCH);
  }, 60_000);
});
