import { createClient } from '@redis/client';
import pino from 'pino';
import { DeviceKeyStore, createAccessKeys, type RedisClient } from '@redis-ingest/redis-schema';
import { eventually, isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

const redis = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
beforeAll(() => redis.connect());
afterAll(() => redis.destroy());

function ingestConfig(env: Record<string, string> = {}): IngestConfig {
  return loadIngestConfig(
    isolatedEnv(testRedisUrl(), {
      INGEST_API_PORT: '0',
      INGEST_API_HOST: '127.0.0.1',
      INGEST_AUTH_CACHE_MS: '0',
      INGEST_REDIS_TIMEOUT_MS: '5000',
      ...env,
    }),
  );
}

const event = (source: string, value = 1) => ({ source, metric: 'm', value });

function poster(api: RunningIngestApi) {
  return (body: unknown, token?: string) =>
    fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
}

describe('ingest-api device keys', () => {
  let config: IngestConfig;
  let api: RunningIngestApi;
  let store: DeviceKeyStore;
  let post: ReturnType<typeof poster>;
  const lines: string[] = [];

  beforeEach(async () => {
    config = ingestConfig();
    store = new DeviceKeyStore(redis, createAccessKeys(config.accessKeys));
    api = await start(config, pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }));
    post = poster(api);
  });
  afterEach(() => api.stop());

  it('runs open until the first key exists, then refuses requests without a valid token', async () => {
    expect((await post(event('a'))).status).toBe(202);
    const token = await store.add('dev-1', ['*']);

    const missing = await post(event('a'));
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="ingest"');
    expect(((await missing.json()) as { error: string }).error).toMatch(/device key is required/);

    const wrong = await post(event('a'), `dev-1.${'A'.repeat(43)}`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="ingest", error="invalid_token"');
    const basic = await fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify(event('a')),
    });
    expect(basic.status).toBe(401);

    expect((await post(event('a'), token)).status).toBe(202);
    await store.revoke('dev-1');
    // Revoking the last key does not reopen ingest for the token: it is checked because it was sent.
    expect((await post(event('a'), token)).status).toBe(401);
    expect(await redis.xLen(config.keys.streamKey)).toBe(2);
  });

  it('refuses a whole batch with 403 naming every source the key may not write', async () => {
    const token = await store.add('dev-1', ['a', 'b']);
    expect((await post([event('a'), event('b')], token)).status).toBe(202);
    const refused = await post([event('a'), event('c'), event('d'), event('c')], token);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: 'Device key dev-1 may not write these sources',
      forbiddenSources: ['c', 'd'],
    });
    expect((await post(event('c'), token)).status).toBe(403);
    expect(await redis.xLen(config.keys.streamKey)).toBe(2);
  });

  it('never writes a token or its secret to the log', async () => {
    const token = await store.add('dev-1', ['a']);
    await post(event('a'), token);
    await post(event('b'), token);
    await post(event('a'), `${token.slice(0, -1)}x`);
    const secret = token.split('.')[1]!;
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.join('\n')).not.toContain(secret.slice(0, 16));
  });
});

describe('ingest-api with INGEST_AUTH_REQUIRED=true', () => {
  it('refuses requests without a token before any key exists, without reading the body', async () => {
    const api = await start(ingestConfig({ INGEST_AUTH_REQUIRED: 'true' }));
    try {
      const response = await fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"not json',
      });
      expect(response.status).toBe(401);
    } finally {
      await api.stop();
    }
  });
});

describe('ingest-api rate limits', () => {
  // One event per second: a test's own few milliseconds refill nothing.
  const limited = { INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '1', INGEST_RATE_LIMIT_BURST: '5' };

  it('shares one budget per device key across two processes, with a correct Retry-After', async () => {
    const config = ingestConfig(limited);
    const token = await new DeviceKeyStore(redis, createAccessKeys(config.accessKeys)).add('dev-1', ['*']);
    const [first, second] = await Promise.all([start(config), start(config)]);
    try {
      expect((await poster(first)([event('a'), event('b'), event('c')], token)).status).toBe(202);
      expect((await poster(second)([event('a'), event('b')], token)).status).toBe(202);
      const refused = await poster(first)(event('a'), token);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      const body = (await refused.json()) as { retryAfterMs: number };
      expect(body.retryAfterMs).toBeGreaterThan(900);
      expect(body.retryAfterMs).toBeLessThanOrEqual(1_000);
      expect((await poster(second)(event('a'), token)).status).toBe(429);
      // Three events need three emission intervals.
      const three = await poster(second)([event('a'), event('a'), event('a')], token);
      expect(three.headers.get('retry-after')).toBe('3');
      expect(await redis.xLen(config.keys.streamKey)).toBe(5);

      // Refused posts charge nothing, so asking again until one is taken measures the refill alone.
      await eventually(async () => (await poster(second)(event('a'), token)).status === 202, body.retryAfterMs + 2_000);
      expect(await redis.xLen(config.keys.streamKey)).toBe(6);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('refuses with 413 a request that carries more events than the burst', async () => {
    const api = await start(ingestConfig(limited));
    try {
      const response = await poster(api)(Array.from({ length: 6 }, () => event('a')));
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ burst: 5 });
    } finally {
      await api.stop();
    }
  });

  it('limits each source on its own while running open, refusing a batch whole', async () => {
    const config = ingestConfig(limited);
    const api = await start(config);
    const post = poster(api);
    try {
      expect((await post(Array.from({ length: 5 }, () => event('a')))).status).toBe(202);
      expect((await post(event('a'))).status).toBe(429);
      expect((await post([event('b'), event('a')])).status).toBe(429);
      expect((await post(Array.from({ length: 5 }, () => event('b')))).status).toBe(202);
      expect(await redis.xLen(config.keys.streamKey)).toBe(10);
    } finally {
      await api.stop();
    }
  });
});
