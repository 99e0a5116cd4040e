import { connect } from 'node:net';
import { freePort, isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import { loadIngestConfig } from './config';
import { start } from './server';

const config = (env: Record<string, string> = {}) =>
  loadIngestConfig(isolatedEnv(testRedisUrl(), { INGEST_API_PORT: '0', INGEST_API_HOST: '127.0.0.1', ...env }));

describe('ingest-api metrics and probes', () => {
  it('counts requests by route and status, events by outcome, and samples the stream', async () => {
    const api = await start(config());
    const base = `http://127.0.0.1:${api.port}`;
    const post = (body: unknown) =>
      fetch(`${base}/api/ingest/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    try {
      await post([{ source: 's', metric: 'm', value: 1 }, { source: 's', metric: 'm', value: 2 }, { source: 'bad source', metric: 'm', value: 3 }]);
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
    } finally {
      await api.stop();
    }
  });

  it('echoes a request id, or makes one up', async () => {
    const api = await start(config());
    try {
      const given = await fetch(`http://127.0.0.1:${api.port}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
      expect(given.headers.get('x-request-id')).toBe('trace-42');
      const made = await fetch(`http://127.0.0.1:${api.port}/healthz`, { headers: { 'x-request-id': 'bad\tid' } });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await api.stop();
    }
  });

  it('is not ready without Redis, while /healthz still answers', async () => {
    const api = await start(config({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
    try {
      expect((await fetch(`http://127.0.0.1:${api.port}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${api.port}/healthz`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('answers /readyz 503 from the moment stopping starts, while a request in flight finishes', async () => {
    const api = await start(config({ INGEST_STOP_DELAY_MS: '500' }));
    const base = `http://127.0.0.1:${api.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // A request whose body is still arriving when stopping begins.
    const body = JSON.stringify({ source: 's', metric: 'm', value: 1 });
    const socket = connect(api.port, '127.0.0.1');
    let reply = '';
    const answered = new Promise<void>((resolve) =>
      socket.on('data', (data) => {
        reply += data.toString();
        if (reply.endsWith('}')) resolve();
      }),
    );
    socket.write(`POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const stopped = api.stop();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    socket.write(body.slice(5));
    await answered;
    socket.destroy();
    expect(reply).toMatch(/^HTTP\/1\.1 202 /);
    await stopped;
  });
});
