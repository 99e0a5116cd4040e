import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { createClient } from '@redis/client';
import { createRedisClient, encodeEvent, type RedisClient } from '@redis-ingest/redis-schema';
import { closeServer, createLimitedHttpServer, createLogger, listen } from '@redis-ingest/service-kit';
import {
  isolatedEnv,
  rawHttpExchange,
  redisSnapshot,
  refusalOf,
  startRedisServer,
  type RedisServer,
} from '@redis-ingest/test-utils';
import { ADMIN_HTTP_LIMITS, createAdminApp } from './admin-server';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { prepareProcessing } from './service';

/**
 * Input an attacker or a broken script might send to the admin port. Each must be refused with a
 * JSON 4xx, never a 5xx or a crash; a refused drain must read nothing and change nothing in Redis;
 * and no key outside the configured ones may appear there. The admin app runs without the read
 * loop, whose reads would change the consumer group, on a private server the suite can SCAN.
 */

const ADMIN_TOKEN = 'hostile-worker-token-0123456789';
const DRAIN = '/api/ingest/workers/process';
const json = (body: unknown) => JSON.stringify(body);
const nested = (depth: number, open: string, close: string, inner: string) =>
  open.repeat(depth) + inner + close.repeat(depth);

interface Attempt {
  readonly method?: 'GET' | 'POST';
  readonly path?: string;
  readonly body?: string | Buffer;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  /** Replaces the admin token's Authorization header; null sends none. */
  readonly authorization?: string | null;
}

const bodies: [string, string, number][] = [
  ['malformed JSON', '{"count": ', 400],
  ['truncated JSON', json({ consumer: 'ops', count: 5 }).slice(0, 15), 400],
  ['a JSON string', '"drain"', 400],
  ['null', 'null', 400],
  ['an array', '[{"count":1}]', 400],
  ['objects nested 2,000 deep, within the body limit', nested(2_000, '{"a":', '}', '1'), 400],
  ['a count nested 5,000 deep', `{"count":${nested(5_000, '[', ']', '1')}}`, 400],
  ['a count of 1e400', '{"count":1e400}', 400],
  ['a count of -1e400', '{"count":-1e400}', 400],
  ['a count of 2^64', '{"count":18446744073709551616}', 400],
  ['a negative count', json({ count: -1 }), 400],
  ['a count of "NaN"', json({ count: 'NaN' }), 400],
  ['a count of "Infinity"', json({ count: 'Infinity' }), 400],
  ['a count of true', json({ count: true }), 400],
  ['a __proto__ key', '{"__proto__":{"count":1,"polluted":true}}', 400],
  ['a constructor key', '{"constructor":{"prototype":{"polluted":true}}}', 400],
  ['a consumer with braces', json({ consumer: 'a{b}' }), 400],
  ['a consumer with a colon', json({ consumer: 'a:b' }), 400],
  ['a consumer with a space', json({ consumer: 'a b' }), 400],
  ['a unicode consumer', json({ consumer: 'Zürich-🌡' }), 400],
  ['a consumer with a control character', json({ consumer: 'a\u0000b' }), 400],
  ['a consumer with a newline', json({ consumer: 'a\nb' }), 400],
  ['a consumer of 129 characters', json({ consumer: 'c'.repeat(129) }), 400],
  ['a consumer that is a number', json({ consumer: 7 }), 400],
  ['an unknown field', json({ count: 1, group: 'other' }), 400],
  ['objects nested 10,000 deep, over the body limit', nested(10_000, '{"a":', '}', '1'), 413],
  ['a 3 MB body', json({ count: 1, pad: 'x'.repeat(3 * 1_048_576) }), 413],
];

const attempts: [string, Attempt, number][] = [
  ...bodies.map(([name, body, status]): [string, Attempt, number] => [name, { body }, status]),
  ['no content type', { body: Buffer.from(json({ count: 1 })), contentType: null }, 415],
  ['text/plain', { body: json({ count: 1 }), contentType: 'text/plain' }, 415],
  ['form data', { body: 'count=1', contentType: 'application/x-www-form-urlencoded' }, 415],
  ['multipart', { body: '--b\r\n\r\n{}\r\n--b--', contentType: 'multipart/form-data; boundary=b' }, 415],
  ['application/json in latin1', { body: json({ count: 1 }), contentType: 'application/json; charset=latin1' }, 415],
  ['a gzip encoding that is not gzip', { body: json({ count: 1 }), headers: { 'content-encoding': 'gzip' } }, 400],
  ['a gzip bomb', { body: gzipSync(Buffer.alloc(10 * 1_048_576, ' ')), headers: { 'content-encoding': 'gzip' } }, 413],
  ['an unknown content encoding', { body: json({ count: 1 }), headers: { 'content-encoding': 'br2' } }, 415],
  ['a count in the query string', { path: `${DRAIN}?count=1` }, 400],
  ['a repeated query parameter', { path: `${DRAIN}?count=1&count=2` }, 400],
  ['an unknown query parameter', { path: `${DRAIN}?all=true` }, 400],
  ['a negative query count', { path: `${DRAIN}?count=-1` }, 400],
  ['a huge query count', { path: `${DRAIN}?count=99999999999999999999999` }, 400],
  ['a non-numeric query count', { path: `${DRAIN}?count=lots` }, 400],
  ['a __proto__ query parameter', { path: `${DRAIN}?__proto__[polluted]=1` }, 400],
  ['a consumer with braces in the query', { path: `${DRAIN}?consumer=%7Bx%7D` }, 400],
  ['no token', { authorization: null }, 401],
  ['a wrong token', { authorization: `Bearer ${ADMIN_TOKEN}x` }, 401],
  ['a token in lower case', { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` }, 401],
  ['basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }, 401],
  ['an empty bearer', { authorization: 'Bearer ' }, 401],
  ['two tokens', { authorization: `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}` }, 401],
  ['an 8 KB token', { authorization: `Bearer ${'t'.repeat(8_192)}` }, 401],
  ['a token of braces and colons', { authorization: 'Bearer {a}:b' }, 401],
  ['a malformed body without a token', { body: '{"count":', authorization: null }, 401],
  ['a GET of the drain', { method: 'GET' }, 404],
  ['an encoded path', { path: '/api/ingest/workers/%7Bprocess%7D' }, 404],
  ['a path with invalid percent-encoding', { path: '/api/ingest/workers/%E0%A4%A' }, 404],
  ['a unicode path', { path: '/api/ingest/workers/%E2%9C%93' }, 404],
];

describe('worker admin port under hostile input', () => {
  const logger = createLogger('worker-hostile-test', 'silent');
  let redisServer: RedisServer;
  let redis: ReturnType<typeof createClient>;
  let client: RedisClient;
  let config: WorkerConfig;
  let server: Server;
  let port: number;
  let before: Map<string, string>;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = createClient({ url: redisServer.url, RESP: 2 });
    await redis.connect();
    config = loadWorkerConfig(isolatedEnv(redisServer.url, { WORKER_ADMIN_TOKEN: ADMIN_TOKEN }));
    client = createRedisClient(config.redis, { name: 'worker-hostile-test', logger });
    await client.connect();
    const context = await prepareProcessing(client, config, logger);
    // Waiting in the stream: a refused drain must leave it there.
    await redis.xAdd(
      config.keys.streamKey,
      '*',
      encodeEvent({ source: 's', metric: 'm', value: 1, occurredAt: new Date().toISOString() }),
    );
    const app = createAdminApp({ context, consumer: 'hostile', logger, adminToken: config.adminToken });
    server = createLimitedHttpServer(app, ADMIN_HTTP_LIMITS);
    port = await listen(server, 0, '127.0.0.1');
    before = await redisSnapshot(redis);
  });

  afterAll(async () => {
    if (server) await closeServer(server);
    client?.destroy();
    redis?.destroy();
    await redisServer?.stop();
  });

  function send({
    method = 'POST',
    path = DRAIN,
    body,
    contentType = 'application/json',
    headers = {},
    authorization = `Bearer ${ADMIN_TOKEN}`,
  }: Attempt) {
    const all: Record<string, string> = { ...headers };
    if (body !== undefined && contentType !== null) all['content-type'] = contentType;
    if (authorization !== null) all.authorization = authorization;
    // Node's fetch takes any Uint8Array body, whatever its lib typings say.
    return fetch(`http://127.0.0.1:${port}${path}`, { method, headers: all, body: body as RequestInit['body'] });
  }

  it.each(attempts.map(([name, attempt, status]) => [name, status, attempt] as const))(
    'refuses %s with a JSON %i',
    async (_, status, attempt) => {
      expect(await refusalOf(await send(attempt))).toEqual({ status, json: true, namesError: true });
    },
  );

  it("answers a head over the admin port's header limit with a JSON 431", async () => {
    const reply = await rawHttpExchange(
      port,
      `POST ${DRAIN} HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(65_536)}\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error).toEqual(expect.any(String));
  });

  it('is still alive and ready, read and wrote nothing, and holds only configured keys', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const after = await redisSnapshot(redis);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, value] of after) expect({ key, same: value === before.get(key) }).toEqual({ key, same: true });
    const [group] = await redis.xInfoGroups(config.keys.streamKey);
    expect(group).toMatchObject({ consumers: 0, pending: 0, lag: 1 });

    const prefixes = [
      config.keys.streamKey,
      config.keys.deadLetterKey,
      config.keys.metricsKey,
      config.keys.seriesPrefix,
    ];
    expect([...after.keys()].filter((key) => !prefixes.some((prefix) => key.startsWith(prefix)))).toEqual([]);

    // The token still drains: the waiting entry is read, stored and acknowledged.
    const drained = await send({ body: json({ count: 10 }) });
    expect(await drained.json()).toEqual({ read: 1, processed: 1, dead_lettered: 0, acked: 1 });
  });
});
