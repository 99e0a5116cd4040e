import { gzipSync } from 'node:zlib';
import { createClient, type RedisClientType } from '@redis/client';
import { DeviceKeyStore, createAccessKeys, eventFields } from '@redis-ingest/redis-schema';
import { isolatedEnv, rawHttpExchange, refusalOf, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

/**
 * Input an attacker or a broken device might send. Each must be refused with a JSON 4xx, never a
 * 5xx or a crash; nothing of it may reach the stream; and no key outside the configured ones may
 * appear in Redis. A private server lets the suite SCAN every key at the end.
 */

const valid = { source: 's', metric: 'm', value: 1 };
const json = (body: unknown) => JSON.stringify(body);
const nested = (depth: number, open: string, close: string, inner: string) =>
  open.repeat(depth) + inner + close.repeat(depth);

interface Attempt {
  readonly body?: string | Buffer;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  /** Replaces the device key's Authorization header; null sends none. */
  readonly authorization?: string | null;
}

const bodies: [string, string, number][] = [
  ['malformed JSON', '{"source": "s",', 400],
  ['truncated JSON', json([valid, valid]).slice(0, 30), 400],
  ['a lone bracket', '[', 400],
  ['a JSON string', '"event"', 400],
  ['null', 'null', 400],
  ['objects nested 10,000 deep', nested(10_000, '{"a":', '}', '1'), 400],
  ['arrays nested 10,000 deep', nested(10_000, '[', ']', ''), 400],
  ['a value nested 10,000 deep', `{"source":"s","metric":"m","value":${nested(10_000, '[', ']', '1')}}`, 400],
  ['1e400, which is not finite', '{"source":"s","metric":"m","value":1e400}', 400],
  ['-1e400', '{"source":"s","metric":"m","value":-1e400}', 400],
  ['"NaN" as the value', json({ ...valid, value: 'NaN' }), 400],
  ['"Infinity" as the value', json({ ...valid, value: 'Infinity' }), 400],
  ['a value of true', json({ ...valid, value: true }), 400],
  ['a __proto__ key', '{"__proto__":{"source":"x","polluted":true},"source":"s","metric":"m","value":1}', 400],
  ['a constructor key', '{"constructor":{"prototype":{"polluted":true}},"source":"s","metric":"m","value":1}', 400],
  ['__proto__ inside a batch', '[{"__proto__":{"isAdmin":true},"source":"s","metric":"m","value":1}]', 400],
  ['a source with braces', json({ ...valid, source: 'a{b}' }), 400],
  ['a source with a colon', json({ ...valid, source: 'a:b' }), 400],
  ['a metric with a space', json({ ...valid, metric: 'a b' }), 400],
  ['a unicode source', json({ ...valid, source: 'Zürich-🌡' }), 400],
  ['a control character', json({ ...valid, source: 'a\u0000b' }), 400],
  ['a newline in the metric', json({ ...valid, metric: 'a\nb' }), 400],
  ['a 129-character source', json({ ...valid, source: 'a'.repeat(129) }), 400],
  ['an event id with a colon', json({ ...valid, eventId: 'x:y' }), 400],
  ['an event id with braces', json({ ...valid, eventId: '{x}' }), 400],
  ['an occurredAt that is not a date', json({ ...valid, occurredAt: '2026-13-45T99:99:99Z' }), 400],
  ['an occurredAt before 1970', json({ ...valid, occurredAt: '1969-12-31T23:59:59Z' }), 400],
  [
    'an occurredAt whose offset carries it past the year 9999',
    json({ ...valid, occurredAt: '9999-12-31T23:59:59-00:01' }),
    400,
  ],
  ['the largest double as the value, whose sums overflow', json({ ...valid, value: 1.7976931348623157e308 }), 400],
  ['an empty batch', '[]', 400],
  ['a batch of nothing valid', json([{ value: 1 }, 'x', null, 7]), 400],
  ['a batch over the limit', json(Array.from({ length: 11 }, () => valid)), 413],
  ['a 3 MB body', json({ ...valid, pad: 'x'.repeat(3 * 1_048_576) }), 413],
  ['a 3 MB batch of small events', json(Array.from({ length: 100_000 }, () => valid)), 413],
];

const attempts: [string, Attempt, number][] = [
  ...bodies.map(([name, body, status]): [string, Attempt, number] => [name, { body }, status]),
  ['no content type', { body: Buffer.from(json(valid)), contentType: null }, 415],
  ['text/plain', { body: json(valid), contentType: 'text/plain' }, 415],
  [
    'multipart/form-data',
    {
      body: '--b\r\nContent-Disposition: form-data; name="e"\r\n\r\n{}\r\n--b--',
      contentType: 'multipart/form-data; boundary=b',
    },
    415,
  ],
  ['application/json; charset=latin1', { body: json(valid), contentType: 'application/json; charset=latin1' }, 415],
  ['a gzip content encoding that is not gzip', { body: json(valid), headers: { 'content-encoding': 'gzip' } }, 400],
  [
    'a gzip bomb: 1 KB that inflates to 10 MB',
    { body: gzipSync(Buffer.alloc(10 * 1_048_576, ' ')), headers: { 'content-encoding': 'gzip' } },
    413,
  ],
  ['an unknown content encoding', { body: json(valid), headers: { 'content-encoding': 'br2' } }, 415],
  ['NDJSON with only junk lines', { body: 'x\n{\n]\n', contentType: 'application/x-ndjson' }, 400],
  ['an Idempotency-Key with a colon', { body: json(valid), headers: { 'idempotency-key': 'a:b' } }, 400],
  [
    'an Idempotency-Key of 1,000 characters',
    { body: json(valid), headers: { 'idempotency-key': 'k'.repeat(1_000) } },
    400,
  ],
  [
    'an Idempotency-Key that differs from eventId',
    { body: json({ ...valid, eventId: 'one' }), headers: { 'idempotency-key': 'two' } },
    400,
  ],
  ['an Idempotency-Key on a batch', { body: json([valid]), headers: { 'idempotency-key': 'k1' } }, 400],
  ['no token', { body: json(valid), authorization: null }, 401],
  ['an empty bearer', { body: json(valid), authorization: 'Bearer ' }, 401],
  ['basic credentials', { body: json(valid), authorization: 'Basic dXNlcjpwYXNz' }, 401],
  ['a token without a secret', { body: json(valid), authorization: 'Bearer dev-1' }, 401],
  ['a token with a wrong secret', { body: json(valid), authorization: `Bearer dev-1.${'A'.repeat(43)}` }, 401],
  ['a token of an unknown key', { body: json(valid), authorization: `Bearer nobody.${'A'.repeat(43)}` }, 401],
  ['a token with a key id of braces', { body: json(valid), authorization: `Bearer {x}.${'A'.repeat(43)}` }, 401],
  ['an 8 KB token', { body: json(valid), authorization: `Bearer ${'t'.repeat(8_192)}` }, 401],
  ['two tokens', { body: json(valid), authorization: `Bearer a.b Bearer c.d` }, 401],
];

describe('ingest-api under hostile input', () => {
  let redisServer: RedisServer;
  let redis: RedisClientType;
  let config: IngestConfig;
  let api: RunningIngestApi;
  let token: string;
  let url: string;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = createClient({ url: redisServer.url, RESP: 2 });
    await redis.connect();
    config = loadIngestConfig(
      isolatedEnv(redisServer.url, {
        INGEST_API_PORT: '0',
        INGEST_API_HOST: '127.0.0.1',
        INGEST_MAX_BATCH: '10',
        INGEST_BODY_LIMIT_BYTES: '65536',
        INGEST_REDIS_TIMEOUT_MS: '5000',
        INGEST_MAX_HEADER_BYTES: '16384',
        // Slow enough that the bucket outlives the suite, so the key scan below sees it.
        INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '1',
        INGEST_RATE_LIMIT_BURST: '1000',
      }),
    );
    token = await new DeviceKeyStore(redis, createAccessKeys(config.accessKeys)).add('dev-1', ['*']);
    api = await start(config);
    url = `http://127.0.0.1:${api.port}/api/ingest/events`;
  });

  afterAll(async () => {
    await api?.stop();
    redis?.destroy();
    await redisServer?.stop();
  });

  async function send({
    body,
    contentType = 'application/json',
    headers = {},
    authorization = `Bearer ${token}`,
  }: Attempt) {
    const all: Record<string, string> = { ...headers };
    if (contentType !== null) all['content-type'] = contentType;
    if (authorization !== null) all.authorization = authorization;
    // Node's fetch takes any Uint8Array body, whatever its lib typings say.
    return fetch(url, { method: 'POST', headers: all, body: body as RequestInit['body'] });
  }

  it('accepts a valid event, so the refusals below are about their input', async () => {
    expect((await send({ body: json(valid) })).status).toBe(202);
  });

  it.each(attempts.map(([name, attempt, status]) => [name, status, attempt] as const))(
    'refuses %s with a JSON %i',
    async (_, status, attempt) => {
      expect(await refusalOf(await send(attempt))).toEqual({ status, json: true, namesError: true });
    },
  );

  it('answers a head over INGEST_MAX_HEADER_BYTES with a JSON 431', async () => {
    const reply = await rawHttpExchange(
      api.port,
      `POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(65_536)}\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(reply).toMatch(/Content-Type: application\/json/);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error).toEqual(expect.any(String));
  });

  it('answers 500 headers within the size limit like any request', async () => {
    const headers = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v']));
    const response = await send({ body: '{', headers });
    expect(response.status).toBe(400);
  });

  it('is still alive and ready, has appended nothing else, and wrote only configured keys', async () => {
    expect((await fetch(`http://127.0.0.1:${api.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${api.port}/readyz`)).status).toBe(200);
    expect((await send({ body: json({ ...valid, value: 2 }) })).status).toBe(202);

    const entries = await redis.xRange(config.keys.streamKey, '-', '+');
    expect(entries.map((entry) => eventFields(entry.message))).toEqual([
      { source: 's', metric: 'm', value: '1', occurredAt: expect.any(String) },
      { source: 's', metric: 'm', value: '2', occurredAt: expect.any(String) },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const prefixes = [
      config.keys.streamKey,
      config.keys.deadLetterKey,
      config.keys.metricsKey,
      config.keys.seriesPrefix,
      config.accessKeys.deviceKeysKey,
      config.accessKeys.rateLimitPrefix,
    ];
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ COUNT: 1_000 })) keys.push(...batch);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !prefixes.some((prefix) => key.startsWith(prefix)))).toEqual([]);
    expect(keys).toEqual(
      expect.arrayContaining([
        config.keys.streamKey,
        config.accessKeys.deviceKeysKey,
        `${config.accessKeys.rateLimitPrefix}:key:dev-1`,
      ]),
    );
  });
});
