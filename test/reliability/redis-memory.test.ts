import { createClient } from '@redis/client';
import { createLogger } from '@redis-ingest/service-kit';
import { freePort, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadIngestConfig } from '../../apps/ingest-api/src/config';
import { start as startIngest, type RunningIngestApi } from '../../apps/ingest-api/src/server';
import { loadQueryConfig } from '../../apps/query-api/src/config';
import { start as startQuery } from '../../apps/query-api/src/server';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../../apps/worker/src/service';
import { T0, eventually, pipelineEnv, silent, spawnRedis, startIngestApi } from './support';

const BATCH = 1_000;
const SOURCES = 10;
/** Timestamps repeat: a series keeps one sample per timestamp, so the series stay small however many events arrive. */
const TIMESTAMPS = 50;

/** A batch of events without eventIds (idempotency records would outlive the drain), over a few small series. */
function batch(n: number): object[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const k = n * BATCH + i;
    return {
      source: `s${k % SOURCES}`,
      metric: 'flood',
      value: k,
      occurredAt: new Date(T0 + (Math.floor(k / SOURCES) % TIMESTAMPS) * 1_000).toISOString(),
    };
  });
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: { accepted?: number; error?: string; redisError?: string; appended?: string };
}

async function post(api: RunningIngestApi, n: number): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch(n)),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Answer['body'],
  };
}

/**
 * Posts batches until `refusals` in a row were refused (at most `limit` batches), `pauseMs` apart;
 * every answer, in order.
 */
async function flood(api: RunningIngestApi, refusals: number, limit = 400, pauseMs = 0): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let n = 0, refusedInARow = 0; n < limit && refusedInARow < refusals; n++) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const answer = await post(api, n);
    answers.push(answer);
    refusedInARow = answer.status === 202 ? 0 : refusedInARow + 1;
  }
  return answers;
}

/**
 * Floods until three batches in a row are refused, and checks that every answer was 202 or a 503 with
 * Retry-After saying that nothing of the batch was appended, and `refusal` in its body.
 */
async function floodUntilRefused(
  api: RunningIngestApi,
  refusal: object,
  pauseMs = 0,
): Promise<{ answers: Answer[]; accepted: number }> {
  const answers = await flood(api, 3, 400, pauseMs);
  expect(answers.filter(({ status }) => status !== 202 && status !== 503)).toEqual([]);
  const refused = answers.filter(({ status }) => status === 503);
  expect(refused.length).toBe(3);
  for (const answer of refused) {
    expect(answer.retryAfter).toBe('5');
    expect(answer.body).toMatchObject({ appended: 'none', ...refusal });
  }
  return { answers, accepted: answers.filter(({ status }) => status === 202).length * BATCH };
}

describe('a Redis with a small maxmemory', () => {
  let server: RedisServer;
  const redis = () => createClient({ url: server.url, RESP: 2 });
  let client: ReturnType<typeof redis>;
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction'] });
    client = redis();
    await client.connect();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((one) => one.stop()));
    await client.flushAll();
  });
  afterAll(async () => {
    client.destroy();
    await server.stop();
  });

  it('refuses whole batches with 503 and Retry-After once Redis itself is out of memory, never 500', async () => {
    const env = pipelineEnv(server.url, {
      INGEST_MAX_BACKLOG: '0',
      INGEST_MAX_BATCH: String(BATCH),
      INGEST_MAX_MEMORY_RATIO: '0',
    });
    const api = await startIngestApi(env);
    running.push(api);
    const { accepted } = await floodUntilRefused(api, {
      redisError: 'oom',
      error: expect.stringContaining('out of memory'),
    });
    // Whole batches only: the stream holds exactly the events answered 202.
    expect(await client.xLen(loadIngestConfig(env).keys.streamKey)).toBe(accepted);
  }, 60_000);

  it('stops below INGEST_MAX_MEMORY_RATIO, leaves the workers room to drain, and takes events again without a restart', async () => {
    const env = pipelineEnv(server.url, {
      INGEST_MAX_BACKLOG: '0',
      INGEST_MAX_BATCH: String(BATCH),
      INGEST_MAX_MEMORY_RATIO: '0.7',
      INGEST_ROLLUP_BACKEND: 'native',
      INGEST_RETAIN_PROCESSED_COUNT: '0',
      INGEST_RETAIN_PROCESSED_MS: '0',
      WORKER_MAINTENANCE_INTERVAL_MS: '100',
    });
    const api = await startIngestApi(env);
    running.push(api);
    // Paced so that the once-a-second memory sample sees the ratio pass before Redis itself is full:
    // about 15 batches fill the last 30% of this Redis.
    const flooded = await floodUntilRefused(api, { error: expect.stringContaining('memory is nearly full') }, 150);
    const { streamKey } = loadIngestConfig(env).keys;
    let { accepted } = flooded;
    expect(accepted).toBeGreaterThan(0);
    expect(await client.xLen(streamKey)).toBe(accepted);

    const worker: RunningWorker = await startWorker(loadWorkerConfig(env), silent);
    running.push({ stop: () => worker.close() });
    await eventually(
      async () => {
        const answer = await post(api, flooded.answers.length);
        if (answer.status === 202) accepted += BATCH;
        return answer.status === 202;
      },
      30_000,
      'ingest to take events again once the workers have drained the stream',
    );

    await eventually(
      async () => {
        const [group] = await client.xInfoGroups(streamKey);
        return group !== undefined && group.pending === 0 && group.lag === 0;
      },
      30_000,
      'every accepted event processed',
    );
    expect(await client.xLen(loadIngestConfig(env).keys.deadLetterKey)).toBe(0);
    for (let source = 0; source < SOURCES; source++) {
      const points = await worker.context.store.range(
        { metric: 'flood', source: `s${source}` },
        { fromMs: T0, toMs: T0 + TIMESTAMPS * 1_000, limit: 1_000 },
      );
      expect(points.length).toBe(TIMESTAMPS);
    }
  }, 90_000);
});

/** A logger whose error lines the test can read. */
function recordingLogger() {
  const errors: string[] = [];
  const logger = createLogger('eviction-test', 'silent');
  jest
    .spyOn(logger, 'error')
    .mockImplementation(((_fields: object, message: string) => void errors.push(message)) as never);
  return { logger, errors };
}

/** What a production deployment needs besides Redis, so that only the eviction check can stop it. */
const PRODUCTION = {
  NODE_ENV: 'production',
  INGEST_AUTH_REQUIRED: 'true',
  QUERY_READ_TOKEN: 'r'.repeat(20),
  QUERY_ADMIN_TOKEN: 'a'.repeat(20),
  QUERY_API_PORT: '0',
};

describe('a Redis that may evict', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
  });
  afterAll(() => server.stop());

  it('logs what can be lost, exports it as a metric, and starts outside production', async () => {
    const { logger, errors } = recordingLogger();
    const api = await startIngest(loadIngestConfig(pipelineEnv(server.url)), logger);
    try {
      expect(errors).toEqual([expect.stringContaining('the event stream with entries not yet processed')]);
      const metrics = await (await fetch(`http://127.0.0.1:${api.port}/metrics`)).text();
      expect(metrics).toMatch(/^redis_eviction_risk\{policy="allkeys-lru"\} 2$/m);
    } finally {
      await api.stop();
    }
  });

  it('refuses to start with NODE_ENV=production unless INGEST_ALLOW_EVICTION=true', async () => {
    const production = pipelineEnv(server.url, PRODUCTION);
    await expect(startIngest(loadIngestConfig(production), silent)).rejects.toThrow(
      /maxmemory-policy allkeys-lru.*INGEST_ALLOW_EVICTION=true/,
    );
    await expect(startQuery(loadQueryConfig(production), silent)).rejects.toThrow(/maxmemory-policy allkeys-lru/);
    await expect(
      startWorker(loadWorkerConfig({ ...production, WORKER_ADMIN_TOKEN: 'w'.repeat(20) }), silent),
    ).rejects.toThrow(/maxmemory-policy allkeys-lru/);
    const allowed = await startIngest(loadIngestConfig({ ...production, INGEST_ALLOW_EVICTION: 'true' }), silent);
    await allowed.stop();
  });
});

describe('a Redis that may evict and comes up after the services', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('is checked once reachable: logged and exported; in production readiness stays 503, outside it the service gets ready', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const production = pipelineEnv(url, PRODUCTION);
    const ingest = recordingLogger();
    const refusing = await startIngest(loadIngestConfig(production), ingest.logger);
    stops.push(() => refusing.stop());
    const query = recordingLogger();
    const refusingQuery = await startQuery(loadQueryConfig(production), query.logger);
    stops.push(() => refusingQuery.stop());
    // The positive control: the same late check outside production only warns.
    const allowing = await startIngest(loadIngestConfig(pipelineEnv(url)), silent);
    stops.push(() => allowing.stop());
    const get = (servicePort: number, path: string) => fetch(`http://127.0.0.1:${servicePort}${path}`);
    const risk = async (servicePort: number) =>
      /^redis_eviction_risk\{policy="([^"]*)"\} (\S+)$/m
        .exec(await (await get(servicePort, '/metrics')).text())
        ?.slice(1);
    expect(await risk(refusing.port)).toEqual(['unknown', 'Nan']);

    const redis = spawnRedis(port, ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    stops.push(redis.stop);
    await eventually(
      async () => (await get(allowing.port, '/readyz')).status === 200,
      15_000,
      'the allowing ingest-api ready',
    );
    for (const { port: servicePort } of [refusing, refusingQuery, allowing])
      await eventually(
        async () => (await risk(servicePort))?.join() === 'allkeys-lru,2',
        15_000,
        'the late check in the metric',
      );
    for (const { port: servicePort } of [refusing, refusingQuery]) {
      const readiness = await get(servicePort, '/readyz');
      expect(readiness.status).toBe(503);
      expect(((await readiness.json()) as { error: string }).error).toMatch(
        /maxmemory-policy allkeys-lru.*INGEST_ALLOW_EVICTION=true/,
      );
    }
    for (const { errors } of [ingest, query]) {
      expect(errors).toEqual(
        expect.arrayContaining([expect.stringContaining('found after start-up: /readyz answers 503')]),
      );
    }
  }, 40_000);
});
