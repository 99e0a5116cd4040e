import { createClient } from 'redis';
import { freePort, isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

function ingestConfig(redisUrl: string): IngestConfig {
  const pipeline = isolatedConfig(redisUrl);
  return {
    ...loadIngestConfig({ INGEST_API_PORT: '0', INGEST_API_HOST: '127.0.0.1', INGEST_BODY_LIMIT_BYTES: '2048' }),
    ...pipeline,
  };
}

describe('ingest-api against a live Redis', () => {
  const redis = createClient({ url: testRedisUrl() });
  let config: IngestConfig;
  let api: RunningIngestApi;
  let url: string;

  beforeAll(() => redis.connect());
  afterAll(() => redis.destroy());
  beforeEach(async () => {
    config = ingestConfig(testRedisUrl());
    api = await start(config);
    url = `http://127.0.0.1:${api.port}/api/ingest/events`;
    await waitForRedis(url);
  });
  afterEach(() => api.stop());

  const post = (body: string, contentType = 'application/json') =>
    fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('appends a valid event with flat fields and echoes it with the stream id', async () => {
    const event = { source: 'sensor-1', metric: 'temperature', value: 21.5, occurredAt: '2026-03-01T10:00:00.250Z' };
    const response = await post(JSON.stringify(event));
    expect(response.status).toBe(202);
    const body = await response.json();
    expect(body).toEqual({ id: expect.stringMatching(/^\d+-\d+$/), value: event });
    const entries = await redis.xRange(config.keys.streamKey, '-', '+');
    expect(entries).toEqual([
      { id: body.id, message: { source: 'sensor-1', metric: 'temperature', value: '21.5', occurredAt: event.occurredAt } },
    ]);
  });

  it('stamps an event without occurredAt with the time of receipt', async () => {
    const before = Date.now();
    const response = await post(JSON.stringify({ source: 's', metric: 'm', value: -3 }));
    const { value } = await response.json();
    expect(response.status).toBe(202);
    expect(Date.parse(value.occurredAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(value.occurredAt)).toBeLessThanOrEqual(Date.now());
  });

  it('answers 400 listing every field error and writes nothing', async () => {
    const response = await post(JSON.stringify({ source: 'a{b}', value: 'hot', extra: true }));
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error).toBe('Invalid event');
    const paths = body.errors.map((error: { path: string }) => error.path);
    expect(paths).toEqual(expect.arrayContaining(['/source', '/metric', '/value', '/extra']));
    expect(body.errors.every((error: { message: string }) => error.message.length > 0)).toBe(true);
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });

  it.each([
    ['malformed JSON', '{"source": "s",', 'application/json', 400],
    ['a JSON scalar', '42', 'application/json', 400],
    ['an empty body', '', 'application/json', 400],
    ['a non-JSON content type', 'source=s', 'text/plain', 415],
    ['a form body', 'source=s', 'application/x-www-form-urlencoded', 415],
    ['a body over the limit', JSON.stringify({ source: 's', metric: 'm', value: 1, pad: 'x'.repeat(4096) }), 'application/json', 413],
  ])('answers %s with a JSON %i', async (_, body, contentType, status) => {
    const response = await post(body, contentType);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(typeof (await response.json()).error).toBe('string');
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });

  it('answers 404 in JSON for an unknown route', async () => {
    const response = await fetch(`http://127.0.0.1:${api.port}/nope`);
    expect(response.status).toBe(404);
    expect((await response.json()).error).toMatch(/nope/);
  });
});

describe('ingest-api without Redis', () => {
  it('answers 503 within a second and never 2xx', async () => {
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const api = await start(ingestConfig(unreachable));
    try {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 's', metric: 'm', value: 1 }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect((await response.json()).error).toMatch(/unavailable/);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await api.stop();
    }
  });
});

/** The client connects in the background; the first request may otherwise race it. */
async function waitForRedis(url: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (response.status === 400) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('ingest-api never reached Redis');
}
