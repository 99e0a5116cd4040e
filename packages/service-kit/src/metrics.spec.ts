import express from 'express';
import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { closeServer, errorHandler, listen } from './http';
import { ServiceMetrics, type QueueSample } from './metrics';
import { Readiness } from './readiness';
import { requestContext } from './request-context';

async function serve(app: express.Express): Promise<{ server: Server; base: string }> {
  const server = createServer(app);
  const port = await listen(server, 0, '127.0.0.1');
  return { server, base: `http://127.0.0.1:${port}` };
}

// prom-client writes "Nan"; Prometheus reads NaN in any case.
const NOT_A_NUMBER = /^nan$/i;

function sampleValue(text: string, name: string): string | undefined {
  return new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
}

describe('ServiceMetrics', () => {
  let server: Server;
  let base: string;
  let reads = 0;
  let sample: () => Promise<QueueSample>;

  beforeAll(async () => {
    const metrics = new ServiceMetrics();
    metrics.sampleQueue(() => {
      reads++;
      return sample();
    });
    const app = express();
    app.use(metrics.httpMiddleware());
    app.get('/metrics', metrics.handler());
    app.get('/things/:id', (req, res) => void res.status(req.params.id === 'missing' ? 404 : 200).json({}));
    ({ server, base } = await serve(app));
  });
  afterAll(() => closeServer(server));

  it('labels requests with the route pattern, not the URL, and their status', async () => {
    await fetch(`${base}/things/1`);
    await fetch(`${base}/things/2`);
    await fetch(`${base}/things/missing`);
    await fetch(`${base}/nowhere/at/all`);
    sample = async () => ({ total: 1, pending: 0, lag: 0, dead_lettered: 0 });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('http_requests_total{method="GET",route="/things/:id",status="200"} 2');
    expect(text).toContain('http_requests_total{method="GET",route="/things/:id",status="404"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/things/:id"} 3');
    expect(text).not.toContain('/things/1');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('reads the queue once per scrape for all its gauges', async () => {
    sample = async () => ({ total: 12, pending: 3, lag: 4, dead_lettered: 1 });
    const before = reads;
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(reads - before).toBe(1);
    expect([
      sampleValue(text, 'telemetry_stream_length'),
      sampleValue(text, 'telemetry_stream_lag'),
      sampleValue(text, 'telemetry_stream_pending'),
      sampleValue(text, 'telemetry_dead_letter_length'),
    ]).toEqual(['12', '4', '3', '1']);
  });

  it('reports NaN and counts a Redis error when the queue cannot be read, instead of a stale value', async () => {
    sample = async () => ({ total: 12, pending: 3, lag: null, dead_lettered: 1 });
    expect(sampleValue(await (await fetch(`${base}/metrics`)).text(), 'telemetry_stream_lag')).toMatch(NOT_A_NUMBER);
    sample = () => Promise.reject(new Error('down'));
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sampleValue(text, 'telemetry_stream_length')).toMatch(NOT_A_NUMBER);
    // The registry gathers the counter alongside the gauges, so the failure shows from the next scrape on.
    expect(await (await fetch(`${base}/metrics`)).text()).toContain(
      'redis_errors_total{operation="queue-stats",kind="other"} 1',
    );
  });
});

describe('requestContext', () => {
  let server: Server;
  let base: string;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const app = express();
    app.use(requestContext(logger));
    app.get('/fail', () => {
      throw new Error('boom');
    });
    app.get('/ok', (_req, res) => void res.json({}));
    app.use(errorHandler(logger));
    ({ server, base } = await serve(app));
  });
  afterAll(() => closeServer(server));

  it('echoes a sane X-Request-Id and puts it on every log line of the request', async () => {
    const response = await fetch(`${base}/fail`, { headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('abc-123');
    const ofRequest = lines.filter((line) => line.requestId === 'abc-123');
    expect(ofRequest.map((line) => line.msg)).toEqual(['unhandled error', 'request']);
    expect(ofRequest[1]).toMatchObject({ method: 'GET', path: '/fail', status: 500 });
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'a b'],
    ['with quotes', 'a"b'],
  ])('replaces an id %s with a fresh one', async (_, id) => {
    const response = await fetch(`${base}/ok`, { headers: { 'x-request-id': id } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes up an id when none is given', async () => {
    const [first, second] = await Promise.all([fetch(`${base}/ok`), fetch(`${base}/ok`)]);
    expect(first.headers.get('x-request-id')).not.toBe(second.headers.get('x-request-id'));
  });
});

describe('Readiness', () => {
  it('answers 503 while the check fails and from the moment stopping begins', async () => {
    let healthy = false;
    const readiness = new Readiness(async () => {
      if (!healthy) throw new Error('redis down');
    });
    const app = express();
    app.get('/readyz', readiness.handler());
    const { server, base } = await serve(app);
    try {
      const down = await fetch(`${base}/readyz`);
      expect([down.status, await down.json()]).toEqual([503, { error: 'Not ready: redis down' }]);
      healthy = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const stopping = readiness.beginStopping(300);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      await stopping;
    } finally {
      await closeServer(server);
    }
  });
});
