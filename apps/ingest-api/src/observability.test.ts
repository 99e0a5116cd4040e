import {
  freePort,
  isolatedEnv,
  requestIdsEchoed,
  stopWithRequestInFlight,
  testRedisUrl,
} from '@redis-ingest/test-utils';
import { loadIngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

const config = (env: Record<string, string> = {}) =>
  loadIngestConfig(isolatedEnv(testRedisUrl(), { INGEST_API_PORT: '0', INGEST_API_HOST: '127.0.0.1', ...env }));

describe('ingest-api metrics and probes', () => {
  let api: RunningIngestApi;
  beforeAll(async () => {
    api = await start(config());
  });
  afterAll(() => api.stop());

  it('counts requests by route and status, events by outcome, and samples the stream', async () => {
    const base = `http://127.0.0.1:${api.port}`;
    const post = (body: unknown) =>
      fetch(`${base}/api/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post([
      { source: 's', metric: 'm', value: 1 },
      { source: 's', metric: 'm', value: 2 },
      { source: 'bad source', metric: 'm', value: 3 },
    ]);
    await post({ source: 's', metric: 'm', value: 'x' });
    await fetch(`${base}/nowhere/${'x'.repeat(10)}`);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('http_requests_total{method="POST",route="/api/ingest/events",status="202"} 1');
    expect(text).toContain('http_requests_total{method="POST",route="/api/ingest/events",status="400"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain('ingest_events_accepted_total 2');
    expect(text).toContain('ingest_events_rejected_total{reason="invalid"} 2');
    expect(text).toMatch(/^telemetry_stream_length 2$/m);
    expect(text).toMatch(/^telemetry_stream_pending 0$/m);
    // No consumer group yet: everything in the stream waits.
    expect(text).toMatch(/^telemetry_stream_lag 0$/m);
  });

  it('echoes a request id, or makes one up', async () => {
    expect(await requestIdsEchoed(api.port)).toEqual({
      given: 'trace-42',
      madeUp: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('is not ready without Redis, while /healthz still answers', async () => {
    const unreachable = await start(config({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
    try {
      expect((await fetch(`http://127.0.0.1:${unreachable.port}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${unreachable.port}/healthz`)).status).toBe(200);
    } finally {
      await unreachable.stop();
    }
  });

  it('answers /readyz 503 from the moment stopping starts, while a request in flight finishes', async () => {
    const stopping = await start(config({ INGEST_STOP_DELAY_MS: '500' }));
    const stop = await stopWithRequestInFlight(stopping, '/api/ingest/events', { source: 's', metric: 'm', value: 1 });
    expect(stop).toMatchObject({
      readyBefore: 200,
      readyWhileStopping: { status: 503, body: { error: 'Stopping' } },
      healthWhileStopping: 200,
    });
    expect(stop.reply).toMatch(/^HTTP\/1\.1 202 /);
  });
});
