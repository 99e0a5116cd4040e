import pino from 'pino';
import { createClient } from '@redis/client';
import { createRedisClient, packedEntry } from '@redis-ingest/redis-schema';
import { closeServer, createLimitedHttpServer, listen } from '@redis-ingest/service-kit';
import {
  eventually,
  isolatedEnv,
  requestIdsEchoed,
  stopWithRequestInFlight,
  testRedisUrl,
} from '@redis-ingest/test-utils';
import { ADMIN_HTTP_LIMITS, createAdminApp } from './admin-server';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { prepareProcessing, start, type RunningWorker } from './service';

const ADMIN_TOKEN = 'worker-admin-token-0123456789';
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const silent = pino({ level: 'silent' });

const workerConfig = (overrides: Record<string, string> = {}): WorkerConfig =>
  loadWorkerConfig(isolatedEnv(testRedisUrl(), { WORKER_ADMIN_PORT: '0', WORKER_BLOCK_MS: '100', ...overrides }));

const event = (source: string, value: number, timestampMs: number) =>
  packedEntry({ source, metric: 'm', value, occurredAt: new Date(timestampMs).toISOString() });

function drainer(service: RunningWorker) {
  return (body: unknown = {}, authorization?: string) =>
    fetch(`http://127.0.0.1:${service.adminPort}/api/ingest/workers/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify(body),
    });
}

const redis = createClient({ url: testRedisUrl(), RESP: 2 });
beforeAll(() => redis.connect());
afterAll(() => redis.destroy());

describe('worker admin port with WORKER_ADMIN_TOKEN', () => {
  let config: WorkerConfig;
  let service: RunningWorker;
  const lines: string[] = [];

  beforeAll(async () => {
    config = workerConfig({ WORKER_ADMIN_TOKEN: ADMIN_TOKEN });
    service = await start(config, pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }));
  });
  afterAll(() => service.close());

  it('refuses the drain without the token or with a wrong one, before reading the body or the stream', async () => {
    await redis.xAdd(config.keys.streamKey, '*', { source: 'only', metric: 'this' });
    const drain = drainer(service);
    const missing = await drain();
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="worker"');
    const wrong = await drain({}, `Bearer ${ADMIN_TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="worker", error="invalid_token"');
    expect((await drain({}, `Basic ${ADMIN_TOKEN}`)).status).toBe(401);
    expect(typeof ((await wrong.json()) as { error: unknown }).error).toBe('string');
  });

  it('drains with the token', async () => {
    const response = await drainer(service)({ count: 1 }, `Bearer ${ADMIN_TOKEN}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(expect.objectContaining({ read: expect.any(Number) }));
  });

  it('echoes a request id, or makes one up', async () => {
    expect(await requestIdsEchoed(service.adminPort)).toEqual({
      given: 'trace-42',
      madeUp: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it.each(['/healthz', '/readyz', '/metrics', '/openapi.json'])('serves %s without a token', async (path) => {
    expect((await fetch(`http://127.0.0.1:${service.adminPort}${path}`)).status).toBe(200);
  });

  it('never writes the token to the log', async () => {
    await drainer(service)({}, `Bearer ${ADMIN_TOKEN}`);
    await drainer(service)({}, `Bearer ${ADMIN_TOKEN}-wrong`);
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.join('\n')).not.toContain(ADMIN_TOKEN.slice(0, 12));
  });
});

describe('worker admin port without a token', () => {
  it('drains for anyone and warns at start-up, naming the variable', async () => {
    const lines: string[] = [];
    const service = await start(
      workerConfig(),
      pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    );
    try {
      expect((await drainer(service)()).status).toBe(200);
      const warnings = lines
        .map((line) => JSON.parse(line) as { level: number; variable?: string })
        .filter(({ level }) => level === 40);
      expect(warnings.map(({ variable }) => variable)).toEqual(['WORKER_ADMIN_TOKEN']);
    } finally {
      await service.close();
    }
  });
});

describe('worker metrics', () => {
  const metricsOf = async (service: RunningWorker) =>
    (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text();
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('counts processed, dead-lettered (by reason) and reclaimed entries, batches and their duration, and samples the stream', async () => {
    // An idle time no batch of the daemon's own comes near, so only the abandoned entry is reclaimed.
    const config = workerConfig({
      INGEST_RAW_RETENTION_MS: '60000',
      INGEST_MAX_DELIVERIES: '1',
      WORKER_RECLAIM_INTERVAL_MS: '50',
      WORKER_RECLAIM_IDLE_MS: '60000',
    });
    const stream = config.keys.streamKey;
    await redis.xGroupCreate(stream, config.consumerGroup, '$', { MKSTREAM: true });
    // Handed to a consumer that never acks and left idle for an hour: the daemon reclaims it, a second delivery,
    // one more than allowed.
    const abandoned = await redis.xAdd(stream, '*', event('reclaimed', 1, T0));
    await redis.xReadGroup(config.consumerGroup, 'gone', { key: stream, id: '>' });
    await redis.sendCommand([
      'XCLAIM',
      stream,
      config.consumerGroup,
      'gone',
      '0',
      abandoned,
      'IDLE',
      '3600000',
      'RETRYCOUNT',
      '1',
    ]);
    const service = await start(config, silent);
    try {
      await eventually(async () => value(await metricsOf(service), 'worker_entries_reclaimed_total') === 1);

      await redis.xAdd(stream, '*', event('s', 1, T0));
      await redis.xAdd(stream, '*', { source: 's', metric: 'm', value: 'hot' });
      await eventually(async () =>
        (await redis.xInfoGroups(stream)).every(({ pending, lag }) => pending === 0 && lag === 0),
      );
      // An hour older than the newest sample of its series, beyond the raw retention: the store refuses it.
      await redis.xAdd(stream, '*', event('s', 2, T0 - 3_600_000));
      await eventually(
        async () => value(await metricsOf(service), 'worker_entries_dead_lettered_total{reason="store_refused"}') === 1,
      );

      const text = await metricsOf(service);
      expect(value(text, 'worker_entries_processed_total')).toBe(1);
      expect(value(text, 'worker_entries_dead_lettered_total{reason="validation"}')).toBe(1);
      expect(value(text, 'worker_entries_dead_lettered_total{reason="store_refused"}')).toBe(1);
      expect(value(text, 'worker_entries_dead_lettered_total{reason="max_deliveries"}')).toBe(1);
      expect(value(text, 'worker_entries_reclaimed_total')).toBe(1);
      const batches = value(text, 'worker_batches_total')!;
      expect(batches).toBeGreaterThanOrEqual(3);
      expect(value(text, 'worker_batch_duration_seconds_count')).toBe(batches);
      expect(value(text, 'worker_batch_duration_seconds_sum')).toBeGreaterThan(0);
      expect(value(text, 'telemetry_stream_length')).toBe(await redis.xLen(stream));
      expect(value(text, 'telemetry_stream_pending')).toBe(0);
      expect(value(text, 'telemetry_dead_letter_length')).toBe(3);
      expect(text).toContain('# TYPE redis_errors_total counter');
      expect(text).toMatch(/^http_requests_total\{method="GET",route="\/metrics",status="200"\} \d+$/m);
    } finally {
      await service.close();
    }
  });

  it('moves the counters by what a drain did', async () => {
    const config = workerConfig();
    const client = createRedisClient(config.redis, { name: 'admin-test', logger: silent });
    await client.connect();
    // No daemon: the drain alone reads the stream.
    const context = await prepareProcessing(client, config, silent);
    const server = createLimitedHttpServer(
      createAdminApp({ context, consumer: 'admin-test', logger: silent }),
      ADMIN_HTTP_LIMITS,
    );
    const base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    try {
      const before = await scrape();
      expect(value(before, 'worker_entries_processed_total')).toBe(0);
      expect(value(before, 'worker_batches_total')).toBe(0);
      await redis.xAdd(config.keys.streamKey, '*', event('s', 1, T0));
      await redis.xAdd(config.keys.streamKey, '*', event('s', 2, T0 + 1_000));
      await redis.xAdd(config.keys.streamKey, '*', { source: 's' });
      const drained = await fetch(`${base}/api/ingest/workers/process`, { method: 'POST' });
      expect(await drained.json()).toEqual({ read: 3, processed: 2, dead_lettered: 1, acked: 3 });
      const after = await scrape();
      expect(value(after, 'worker_entries_processed_total')).toBe(2);
      expect(value(after, 'worker_entries_dead_lettered_total{reason="validation"}')).toBe(1);
      expect(value(after, 'worker_batches_total')).toBe(1);
      expect(value(after, 'worker_batch_duration_seconds_count')).toBe(1);
      expect(value(after, 'http_requests_total{method="POST",route="/api/ingest/workers/process",status="200"}')).toBe(
        1,
      );
    } finally {
      await closeServer(server);
      client.destroy();
    }
  });
});

describe('worker shutdown', () => {
  it('answers /readyz 503 from the moment stopping starts, while a drain in flight finishes', async () => {
    const service = await start(workerConfig({ WORKER_STOP_DELAY_MS: '500' }), silent);
    const stop = await stopWithRequestInFlight(
      { port: service.adminPort, stop: () => service.close() },
      '/api/ingest/workers/process',
      { count: 5 },
    );
    expect(stop).toMatchObject({
      readyBefore: 200,
      readyWhileStopping: { status: 503, body: { error: 'Stopping' } },
      healthWhileStopping: 200,
    });
    expect(stop.reply).toMatch(/^HTTP\/1\.1 200 /);
  });
});
