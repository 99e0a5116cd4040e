import {
  freePort,
  isolatedEnv,
  requestIdsEchoed,
  stopWithRequestInFlight,
  testRedisUrl,
} from '@redis-ingest/test-utils';
import { createClient } from '@redis/client';
import { loadQueryConfig } from './config';
import { start, type RunningQueryApi } from './server';

const config = (env: Record<string, string> = {}) =>
  loadQueryConfig(
    isolatedEnv(testRedisUrl(), {
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_ROLLUP_BACKEND: 'native',
      ...env,
    }),
  );

describe('query-api metrics and probes', () => {
  const settings = config();
  let api: RunningQueryApi;
  beforeAll(async () => {
    api = await start(settings);
  });
  afterAll(() => api.stop());

  it('counts requests by route and status, and samples the stream at each scrape', async () => {
    const base = `http://127.0.0.1:${api.port}`;
    const redis = createClient({ url: testRedisUrl(), RESP: 2 });
    await redis.connect();
    try {
      await fetch(`${base}/api/ingest/summary`);
      await fetch(`${base}/api/ingest/summary?limit=0`);
      await fetch(`${base}/nowhere`);
      await redis.xAdd(settings.keys.streamKey, '*', { source: 's', metric: 'm', value: '1' });
      await redis.xAdd(settings.keys.streamKey, '*', { source: 's', metric: 'm', value: '2' });
      await redis.xAdd(settings.keys.deadLetterKey, '*', { reason: 'x' });
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toContain('http_requests_total{method="GET",route="/api/ingest/summary",status="200"} 1');
      expect(text).toContain('http_requests_total{method="GET",route="/api/ingest/summary",status="400"} 1');
      expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
      expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/ingest\/summary"\} 2$/m);
      expect(text).toMatch(/^telemetry_stream_length 2$/m);
      expect(text).toMatch(/^telemetry_stream_pending 0$/m);
      expect(text).toMatch(/^telemetry_stream_lag 0$/m);
      expect(text).toMatch(/^telemetry_dead_letter_length 1$/m);
      expect(text).toContain('# TYPE redis_errors_total counter');
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);

      await fetch(`${base}/api/ingest/summary`);
      const later = await (await fetch(`${base}/metrics`)).text();
      expect(later).toContain('http_requests_total{method="GET",route="/api/ingest/summary",status="200"} 2');
    } finally {
      redis.destroy();
    }
  });

  it('echoes a request id, or makes one up', async () => {
    expect(await requestIdsEchoed(api.port)).toEqual({
      given: 'trace-42',
      madeUp: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('is not ready without Redis, counts the failures, while /healthz still answers', async () => {
    const unreachable = await start(config({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
    const base = `http://127.0.0.1:${unreachable.port}`;
    try {
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/api/ingest/events/recent`)).status).toBe(503);
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/^redis_errors_total\{operation="query",kind="connection"\} 1$/m);
      expect(text).toMatch(/^telemetry_stream_length Nan$/m);
      // The registry reports the counter before the gauges whose failed read it counts.
      const next = await (await fetch(`${base}/metrics`)).text();
      expect(next).toMatch(/^redis_errors_total\{operation="queue-stats",kind="connection"\} 1$/m);
    } finally {
      await unreachable.stop();
    }
  });

  it('answers /readyz 503 from the moment stopping starts, while a request in flight finishes', async () => {
    const stopping = await start(config({ QUERY_STOP_DELAY_MS: '500' }));
    const stop = await stopWithRequestInFlight(stopping, '/api/ingest/dead-letters/delete', { ids: ['1-0'] });
    expect(stop).toMatchObject({
      readyBefore: 200,
      readyWhileStopping: { status: 503, body: { error: 'Stopping' } },
      healthWhileStopping: 200,
    });
    expect(stop.reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(stop.reply).toContain('{"deleted":0,"missing":["1-0"]}');
  });
});
