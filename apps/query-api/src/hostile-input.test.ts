import { gzipSync } from 'node:zlib';
import { createRedisClient, createRollupStore, deadLetterFields, type RedisClient } from '@redis-ingest/redis-schema';
import {
  isolatedEnv,
  rawHttpExchange,
  redisSnapshot,
  refusalOf,
  startRedisServer,
  type RedisServer,
  type ScanningClient,
} from '@redis-ingest/test-utils';
import { loadQueryConfig, type QueryConfig } from './config';
import { start, type RunningQueryApi } from './server';

/**
 * Input an attacker or a broken client might send. Each must be refused with a JSON 4xx, never a
 * 5xx or a crash; a refused request must change nothing in Redis; and no key outside the configured
 * ones may appear there. A private server lets the suite SCAN and compare every key.
 */

const READ_TOKEN = 'hostile-read-token-0123456789';
const ADMIN_TOKEN = 'hostile-admin-token-0123456789';
const nested = (depth: number, open: string, close: string, inner: string) =>
  open.repeat(depth) + inner + close.repeat(depth);

interface Attempt {
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string | Buffer;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  /** Replaces the admin token's Authorization header; null sends none. */
  readonly authorization?: string | null;
}

const SERIES = '/api/ingest/series';
const RANGE = '/api/ingest/series/m/s/range';
const REPLAY = '/api/ingest/dead-letters/replay';
const DELETE = '/api/ingest/dead-letters/delete';
const post = (path: string, body: string | Buffer, extra: Partial<Attempt> = {}): Attempt => ({
  method: 'POST',
  path,
  body,
  ...extra,
});

const queries: [string, string][] = [
  ['a repeated parameter', `${SERIES}?limit=1&limit=2`],
  ['an unknown parameter', `${SERIES}?page=2`],
  ['a __proto__ parameter', `${SERIES}?__proto__=1`],
  ['a constructor parameter', `${SERIES}?constructor[prototype][polluted]=1`],
  ['a bracketed parameter', `${SERIES}?limit[a]=1`],
  ['a negative limit', `${SERIES}?limit=-1`],
  ['a huge limit', `${SERIES}?limit=99999999999999999999999`],
  ['a non-numeric limit', `${SERIES}?limit=ten`],
  ['a limit of NaN', `${SERIES}?limit=NaN`],
  ['a limit of Infinity', `${SERIES}?limit=Infinity`],
  ['a fractional limit', `${SERIES}?limit=1.5`],
  ['a metric with braces', `${SERIES}?metric=a%7Bb%7D`],
  ['a metric with a colon', `${SERIES}?metric=a%3Ab`],
  ['a source with a space', `${SERIES}?source=a%20b`],
  ['a unicode source', `${SERIES}?source=Z%C3%BCrich`],
  ['a control character in the metric', `${SERIES}?metric=a%00b`],
  ['a 10,000-character metric', `${SERIES}?metric=${'m'.repeat(10_000)}`],
  ['a cursor that is no cursor', `${SERIES}?cursor=%7B%7D`],
  ['a recent count of 0', '/api/ingest/events/recent?count=0'],
  ['a recent count in exponent form', '/api/ingest/events/recent?count=1e2'],
  ['a summary page over the limit', '/api/ingest/summary?limit=1001'],
  ['a range from NaN', `${RANGE}?from=NaN`],
  ['a range to Infinity', `${RANGE}?to=Infinity`],
  ['a range from 1e400', `${RANGE}?from=1e400`],
  ['a range from before 1970', `${RANGE}?from=-1`],
  ['a range ending before it starts', `${RANGE}?from=2000&to=1000`],
  ['a bucket of 0', `${RANGE}?agg=avg&bucket=0`],
  ['a negative bucket', `${RANGE}?agg=avg&bucket=-60000`],
  ['an unknown aggregation', `${RANGE}?agg=median&bucket=60000`],
  ['an aggregation of __proto__', `${RANGE}?agg=__proto__&bucket=60000`],
  ['a range of a billion buckets', `${RANGE}?from=0&to=9000000000000&agg=avg&bucket=1`],
  ['a metric path parameter with braces', '/api/ingest/series/a%7Bb%7D/s/range'],
  ['a metric path parameter with a colon', '/api/ingest/series/a%3Ab/s/range'],
  ['a source path parameter with a space', '/api/ingest/series/m/a%20b/range'],
  ['a unicode path parameter', '/api/ingest/series/%E2%9C%93/s/range'],
  ['a newline in a path parameter', '/api/ingest/series/a%0Ab/s/range'],
  ['a slash in a path parameter', '/api/ingest/series/a%2Fb/s/range'],
  ['a path parameter that is not valid percent-encoding', '/api/ingest/series/%E0%A4%A/s/range'],
  ['a reduced metric with a percent sign', '/api/ingest/metrics/m%25/range'],
  ['an unknown reducer', '/api/ingest/metrics/m/range?reduce=median'],
  ['a dead-letter count of -5', '/api/ingest/dead-letters?count=-5'],
  ['a dead-letter cursor that is no id', '/api/ingest/dead-letters?cursor=abc'],
  ['a dead-letter cursor of 20 digits past 2^64 - 1', '/api/ingest/dead-letters?cursor=18446744073709551616-0'],
  ['a dead-letter cursor whose sequence is past 2^64 - 1', '/api/ingest/dead-letters?cursor=0:1-18446744073709551616'],
];

const bodies: [string, string, number][] = [
  ['malformed JSON', '{"ids": [', 400],
  ['truncated JSON', JSON.stringify({ ids: ['1-0', '2-0'] }).slice(0, 12), 400],
  ['null', 'null', 400],
  ['an empty object', '{}', 400],
  ['both ids and all', JSON.stringify({ ids: ['1-0'], all: true }), 400],
  ['all: false', JSON.stringify({ all: false }), 400],
  ['objects nested 10,000 deep', nested(10_000, '{"a":', '}', '1'), 400],
  ['ids nested 10,000 deep', `{"ids":${nested(10_000, '[', ']', '"1-0"')}}`, 400],
  ['an id of 1e400', '{"ids":[1e400]}', 400],
  ['an id of "NaN"', JSON.stringify({ ids: ['NaN'] }), 400],
  ['an id of "Infinity"', JSON.stringify({ ids: ['Infinity'] }), 400],
  ['an id past 2^64', JSON.stringify({ ids: ['99999999999999999999999-0'] }), 400],
  ['an id of 20 digits past 2^64 - 1', JSON.stringify({ ids: ['99999999999999999999-0'] }), 400],
  ['an id whose sequence is past 2^64 - 1', JSON.stringify({ ids: ['0-18446744073709551616'] }), 400],
  ['an id with braces', JSON.stringify({ ids: ['{1}-0'] }), 400],
  ['an id with a colon', JSON.stringify({ ids: ['1:0'] }), 400],
  ['an id with a space', JSON.stringify({ ids: ['1 -0'] }), 400],
  ['a unicode id', JSON.stringify({ ids: ['１-0'] }), 400],
  ['an id with a control character', JSON.stringify({ ids: ['1-0\u0000'] }), 400],
  ['repeated ids', JSON.stringify({ ids: ['1-0', '1-0'] }), 400],
  ['a __proto__ key', '{"__proto__":{"all":true}}', 400],
  ['a __proto__ key beside ids', '{"__proto__":{"polluted":true},"ids":["1-0"]}', 400],
  ['a constructor key', '{"constructor":{"prototype":{"polluted":true}}}', 400],
  ['a 3 MB body', JSON.stringify({ ids: ['1-0'], pad: 'x'.repeat(3 * 1_048_576) }), 413],
];

const attempts: [string, Attempt, number][] = [
  ...queries.map(([name, path]): [string, Attempt, number] => [name, { path }, 400]),
  ...bodies.flatMap(([name, body, status]): [string, Attempt, number][] => [
    [`replay: ${name}`, post(REPLAY, body), status],
    [`delete: ${name}`, post(DELETE, body), status],
  ]),
  ['a replay without a body', { method: 'POST', path: REPLAY, contentType: null }, 400],
  [
    'a replay with no content type',
    post(REPLAY, Buffer.from(JSON.stringify({ all: true })), { contentType: null }),
    415,
  ],
  ['a replay as text/plain', post(REPLAY, JSON.stringify({ all: true }), { contentType: 'text/plain' }), 415],
  ['a delete as form data', post(DELETE, 'all=true', { contentType: 'application/x-www-form-urlencoded' }), 415],
  [
    'a delete as multipart',
    post(DELETE, '--b\r\n\r\n{}\r\n--b--', { contentType: 'multipart/form-data; boundary=b' }),
    415,
  ],
  [
    'a delete in latin1',
    post(DELETE, JSON.stringify({ all: true }), { contentType: 'application/json; charset=latin1' }),
    415,
  ],
  [
    'a gzip encoding that is not gzip',
    post(DELETE, JSON.stringify({ all: true }), { headers: { 'content-encoding': 'gzip' } }),
    400,
  ],
  [
    'a gzip bomb',
    post(DELETE, gzipSync(Buffer.alloc(10 * 1_048_576, ' ')), { headers: { 'content-encoding': 'gzip' } }),
    413,
  ],
  [
    'an unknown content encoding',
    post(DELETE, JSON.stringify({ all: true }), { headers: { 'content-encoding': 'br2' } }),
    415,
  ],
  ['a read without a token', { path: SERIES, authorization: null }, 401],
  ['a read with a wrong token', { path: SERIES, authorization: `Bearer ${READ_TOKEN}x` }, 401],
  ['a read with basic credentials', { path: SERIES, authorization: 'Basic dXNlcjpwYXNz' }, 401],
  ['a read with an empty bearer', { path: SERIES, authorization: 'Bearer ' }, 401],
  ['a read with two tokens', { path: SERIES, authorization: `Bearer ${READ_TOKEN} ${READ_TOKEN}` }, 401],
  ['a read with an 8 KB token', { path: SERIES, authorization: `Bearer ${'t'.repeat(8_192)}` }, 401],
  ['a read with a token of braces and colons', { path: SERIES, authorization: 'Bearer {a}:b' }, 401],
  ['a delete-all without a token', post(DELETE, JSON.stringify({ all: true }), { authorization: null }), 401],
  [
    'a delete-all with the read token',
    post(DELETE, JSON.stringify({ all: true }), { authorization: `Bearer ${READ_TOKEN}` }),
    403,
  ],
  [
    'a replay-all with the read token',
    post(REPLAY, JSON.stringify({ all: true }), { authorization: `Bearer ${READ_TOKEN}` }),
    403,
  ],
  [
    'a replay-all with a wrong token',
    post(REPLAY, JSON.stringify({ all: true }), { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }),
    401,
  ],
  [
    'a replay-all with the token in lower case',
    post(REPLAY, JSON.stringify({ all: true }), { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` }),
    401,
  ],
  ['a POST on a read route', { method: 'POST', path: SERIES, body: '{}' }, 404],
  ['an unknown route', { path: '/api/ingest/everything' }, 404],
];

describe('query-api under hostile input', () => {
  let redisServer: RedisServer;
  let redis: RedisClient;
  let config: QueryConfig;
  let api: RunningQueryApi;
  let base: string;
  let before: Map<string, string>;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = createRedisClient(redisServer.url, { name: 'hostile-input-test', logger: { warn: () => undefined } });
    await redis.connect();
    config = loadQueryConfig(
      isolatedEnv(redisServer.url, {
        QUERY_API_PORT: '0',
        QUERY_API_HOST: '127.0.0.1',
        INGEST_ROLLUP_BACKEND: 'native',
        QUERY_READ_TOKEN: READ_TOKEN,
        QUERY_ADMIN_TOKEN: ADMIN_TOKEN,
        QUERY_MAX_HEADER_BYTES: '16384',
      }),
    );
    const store = await createRollupStore(redis, config);
    await store.addSamples([{ metric: 'm', source: 's', timestampMs: Date.now(), value: 1 }]);
    const id = await redis.xAdd(config.keys.streamKey, '*', { source: 's', metric: 'm', value: 'x' });
    const failure = {
      messageId: id,
      reason: 'value: Expected number',
      failedAt: new Date().toISOString(),
      consumer: 'w',
    };
    await redis.xAdd(
      config.keys.deadLetterKey,
      '*',
      deadLetterFields(failure, { source: 's', metric: 'm', value: 'x' }, []),
    );
    api = await start(config);
    base = `http://127.0.0.1:${api.port}`;
    before = await redisSnapshot(redis as unknown as ScanningClient);
  });

  afterAll(async () => {
    await api?.stop();
    redis?.destroy();
    await redisServer?.stop();
  });

  async function send({
    method = 'GET',
    path,
    body,
    contentType = 'application/json',
    headers = {},
    authorization = `Bearer ${ADMIN_TOKEN}`,
  }: Attempt) {
    const all: Record<string, string> = { ...headers };
    if (body !== undefined && contentType !== null) all['content-type'] = contentType;
    if (authorization !== null) all.authorization = authorization;
    // Node's fetch takes any Uint8Array body, whatever its lib typings say.
    return fetch(`${base}${path}`, { method, headers: all, body: body as RequestInit['body'] });
  }

  it('answers valid reads, so the refusals below are about their input', async () => {
    expect((await send({ path: `${SERIES}?limit=1` })).status).toBe(200);
    expect((await send({ path: `${RANGE}?agg=avg&bucket=60000` })).status).toBe(200);
  });

  it.each(attempts.map(([name, attempt, status]) => [name, status, attempt] as const))(
    'refuses %s with a JSON %i',
    async (_, status, attempt) => {
      expect(await refusalOf(await send(attempt))).toEqual({ status, json: true, namesError: true });
    },
  );

  it('answers a head over QUERY_MAX_HEADER_BYTES with a JSON 431', async () => {
    const reply = await rawHttpExchange(
      api.port,
      `GET ${SERIES} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\nX-Padding: ${'p'.repeat(65_536)}\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error).toEqual(expect.any(String));
  });

  it('answers 500 headers within the size limit like any request', async () => {
    const headers = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v']));
    expect((await send({ path: `${SERIES}?limit=0`, headers })).status).toBe(400);
  });

  it('is still alive and ready, changed nothing in Redis, and holds only configured keys', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const after = await redisSnapshot(redis as unknown as ScanningClient);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, value] of after) expect({ key, same: value === before.get(key) }).toEqual({ key, same: true });

    const prefixes = [
      config.keys.streamKey,
      config.keys.deadLetterKey,
      config.keys.metricsKey,
      config.keys.seriesPrefix,
    ];
    expect(after.size).toBeGreaterThan(0);
    expect([...after.keys()].filter((key) => !prefixes.some((prefix) => key.startsWith(prefix)))).toEqual([]);

    // The admin token still works after all that: the dead letter is there to delete.
    expect((await send(post(DELETE, JSON.stringify({ all: true })))).status).toBe(200);
  });
});
