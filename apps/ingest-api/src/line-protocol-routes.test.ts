import { gzipSync } from 'node:zlib';
import { InfluxDB, Point, setLogger, type WriteOptions } from '@influxdata/influxdb-client';
import { createClient, type RedisClientType } from '@redis/client';
import { DeviceKeyStore, createAccessKeys, eventFields } from '@redis-ingest/redis-schema';
import { eventually, isolatedEnv, refusalOf, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

/**
 * The Influx write endpoints against a private Redis, driven by the real Influx client where it
 * can be and by hand-made bodies where the client would never send them.
 */

interface Api {
  readonly config: IngestConfig;
  readonly api: RunningIngestApi;
  readonly origin: string;
  readonly token: string;
}

const quietClient: Partial<WriteOptions> = { flushInterval: 0, maxRetries: 0 };

describe('Influx line protocol on the ingest-api', () => {
  let redisServer: RedisServer;
  let redis: RedisClientType;
  const running: RunningIngestApi[] = [];

  beforeAll(async () => {
    // The client logs every failed write; the tests expect the failures.
    setLogger({ error: () => undefined, warn: () => undefined });
    redisServer = await startRedisServer();
    redis = createClient({ url: redisServer.url, RESP: 2 });
    await redis.connect();
  });

  afterAll(async () => {
    await Promise.all(running.map((api) => api.stop()));
    redis?.destroy();
    await redisServer?.stop();
  });

  async function startApi(env: Record<string, string> = {}, sources = ['*']): Promise<Api> {
    const config = loadIngestConfig(
      isolatedEnv(redisServer.url, {
        INGEST_API_PORT: '0',
        INGEST_API_HOST: '127.0.0.1',
        INGEST_REDIS_TIMEOUT_MS: '5000',
        ...env,
      }),
    );
    const token = await new DeviceKeyStore(redis, createAccessKeys(config.accessKeys)).add('dev-1', sources);
    const api = await start(config);
    running.push(api);
    return { config, api, origin: `http://127.0.0.1:${api.port}`, token };
  }

  const entries = async ({ config }: Api) =>
    (await redis.xRange(config.keys.streamKey, '-', '+')).map((entry) => eventFields(entry.message));

  const post = ({ origin, token }: Api, path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { authorization: `Token ${token}`, ...headers },
      body: body as RequestInit['body'],
    });

  describe('with a device key and a 16 MB body limit', () => {
    let api: Api;
    beforeAll(async () => {
      api = await startApi({ INGEST_BODY_LIMIT_BYTES: String(16 * 1_048_576) });
    });
    beforeEach(() => redis.del(api.config.keys.streamKey));

    it('takes batches from the Influx client, gzipped, and appends every field of every point', async () => {
      const writeApi = new InfluxDB({ url: api.origin, token: api.token }).getWriteApi('my-org', 'my bucket', 'ms', {
        ...quietClient,
        // A busy machine can answer a batch 503 (Redis slower than INGEST_REDIS_TIMEOUT_MS); the client retries it.
        maxRetries: 10,
        minRetryDelay: 100,
        retryJitter: 100,
        batchSize: 400,
        gzipThreshold: 1_000,
      });
      const base = Date.parse('2026-03-01T10:00:00.000Z');
      for (let i = 0; i < 1_000; i += 1) {
        writeApi.writePoint(
          new Point('env')
            .tag('host', `sensor-${i % 10}`)
            .tag('room', `r${i % 3}`)
            .floatField('temperature', 20 + i / 100)
            .intField('count', i)
            .booleanField('ok', i % 2 === 0)
            .timestamp(new Date(base + i)),
        );
      }
      // close() drops batches still waiting in the client's retry buffer (one a busy machine answered
      // 503), so the test flushes that buffer until every point is in.
      await writeApi.flush();
      await eventually(
        async () => {
          await writeApi.flush(true).catch(() => undefined);
          return (await entries(api)).length >= 3_000;
        },
        20_000,
        'every point of every batch written',
      );
      await writeApi.close();
      // A batch the client retried (a 503 on a busy machine) lands after the ones that followed it.
      const written = (await entries(api)).sort((a, b) =>
        `${a.occurredAt} ${a.metric}`.localeCompare(`${b.occurredAt} ${b.metric}`),
      );
      expect(written).toHaveLength(3_000);
      // The client sorts fields by key: count, ok, temperature.
      expect(written.slice(0, 3)).toEqual([
        { source: 'sensor-0', metric: 'env.count.room-r0', value: '0', occurredAt: '2026-03-01T10:00:00.000Z' },
        { source: 'sensor-0', metric: 'env.ok.room-r0', value: '1', occurredAt: '2026-03-01T10:00:00.000Z' },
        { source: 'sensor-0', metric: 'env.temperature.room-r0', value: '20', occurredAt: '2026-03-01T10:00:00.000Z' },
      ]);
      expect(written[2_999]).toEqual({
        source: 'sensor-9',
        metric: 'env.temperature.room-r0',
        value: String(20 + 999 / 100),
        occurredAt: '2026-03-01T10:00:00.999Z',
      });
    });

    it('answers a partial write with 400 naming the first bad line, after appending the good ones', async () => {
      const response = await post(
        api,
        '/api/v2/write?org=o&bucket=b&precision=s',
        'm,source=a f=1 1772359200\nm,source=a f="text"\nm f=2\nm,source=b f=3i\n',
      );
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        code: 'invalid',
        message:
          'partial write: 2 lines rejected, 2 events appended; line 2: field "f" is a string; only numbers and booleans become events',
        error: expect.any(String),
        line: 2,
        accepted: 2,
        rejectedLines: 2,
        rejected: [
          { line: 2, message: 'field "f" is a string; only numbers and booleans become events' },
          { line: 3, message: 'no source or host tag to take the source from' },
        ],
      });
      expect(await entries(api)).toEqual([
        { source: 'a', metric: 'm.f', value: '1', occurredAt: '2026-03-01T10:00:00.000Z' },
        { source: 'b', metric: 'm.f', value: '3', occurredAt: expect.any(String) },
      ]);
    });

    it('refuses the escaping cases whose names the event schema cannot hold, naming them unescaped', async () => {
      const body = [
        'wea\\ ther,source=s f=1',
        'm,source=s,lo\\,c=a\\=b f=1',
        'm,source=s fi\\ eld=1',
        'm,source=s f="say \\"hi\\""',
      ].join('\n');
      const response = await post(api, '/api/v2/write', body);
      expect(response.status).toBe(400);
      expect((await response.json()).rejected.map(({ message }: { message: string }) => message)).toEqual([
        'metric "wea ther.f" must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
        'metric "m.f.lo,c-a=b" must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
        'metric "m.fi eld" must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
        'field "f" is a string; only numbers and booleans become events',
      ]);
      expect(await entries(api)).toEqual([]);
    });

    it('takes v1 writes with the key as the p parameter or the basic-auth password, at v1 precisions', async () => {
      const { origin, token } = api;
      const query = await fetch(
        `${origin}/write?db=telegraf&rp=autogen&u=me&p=${encodeURIComponent(token)}&precision=h`,
        { method: 'POST', body: 'm,source=a f=1 492322' },
      );
      expect(query.status).toBe(204);
      const basic = Buffer.from(`me:${token}`).toString('base64');
      const viaBasic = await fetch(`${origin}/write?db=telegraf&precision=n`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}` },
        body: 'm,source=b f=2 1772359200000000000',
      });
      expect(viaBasic.status).toBe(204);
      const bearer = await post(api, '/write?precision=u', 'm,source=c f=3 1772359200000000', {
        authorization: `Bearer ${token}`,
      });
      expect(bearer.status).toBe(204);
      expect((await entries(api)).map(({ source, occurredAt }) => [source, occurredAt])).toEqual([
        ['a', '2026-03-01T10:00:00.000Z'],
        ['b', '2026-03-01T10:00:00.000Z'],
        ['c', '2026-03-01T10:00:00.000Z'],
      ]);
    });

    it('takes a gzipped body with CRLF line ends, comments and blank lines', async () => {
      const body = gzipSync(
        '# from a Windows gateway\r\n\r\nm,source=a f=1 1772359200000\r\nm,source=b f=2 1772359200000\r\n',
      );
      const response = await post(api, '/api/v2/write?precision=ms', body, {
        'content-encoding': 'gzip',
        'content-type': 'text/plain; charset=utf-8',
      });
      expect(response.status).toBe(204);
      expect((await entries(api)).map(({ source, value }) => [source, value])).toEqual([
        ['a', '1'],
        ['b', '2'],
      ]);
    });

    it.each([
      ['no key', { authorization: '' }, 401],
      ['a wrong key', { authorization: `Token dev-1.${'A'.repeat(43)}` }, 401],
      [
        'basic credentials without a colon',
        { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` },
        401,
      ],
      ['an unknown scheme', { authorization: 'Digest x' }, 401],
    ])('refuses %s with an Influx-style 401', async (_name, headers, status) => {
      const response = await post(api, '/api/v2/write', 'm,source=a f=1', headers);
      expect(response.status).toBe(status);
      expect((await response.json()).code).toBe('unauthorized');
    });

    it('tells the Influx client a wrong key is wrong, without retrying', async () => {
      const writeApi = new InfluxDB({ url: api.origin, token: 'dev-1.wrong' }).getWriteApi('o', 'b', 'ns', quietClient);
      writeApi.writeRecord('m,source=a f=1');
      await expect(writeApi.flush()).rejects.toMatchObject({ statusCode: 401 });
      await writeApi.close().catch(() => undefined);
      expect(await entries(api)).toEqual([]);
    });

    const bomb = gzipSync(Buffer.alloc(100 * 1_048_576, 'm,source=a f=1\n'));

    it.each([
      ['a 100 MB gzip bomb', bomb, { 'content-encoding': 'gzip' }, 413],
      ['a body that claims gzip but is not', Buffer.from('m,source=a f=1'), { 'content-encoding': 'gzip' }, 400],
      ['an unknown content encoding', Buffer.from('m,source=a f=1'), { 'content-encoding': 'zstd' }, 415],
      ['a 17 MB plain body', Buffer.alloc(17 * 1_048_576, 'm,source=a f=1\n'), {}, 413],
      ['an empty body', Buffer.alloc(0), {}, 400],
      ['only comments', Buffer.from('# nothing\n\n'), {}, 400],
      ['an unterminated quote', Buffer.from('m,source=a s="open'), {}, 400],
      [
        'a line of a million tags',
        Buffer.from(`m,source=a${Array.from({ length: 1_000_000 }, (_, i) => `,t${i}=v`).join('')} f=1`),
        {},
        400,
      ],
      ['a 16 MB line', Buffer.from(`m,source=a s="${'x'.repeat(16 * 1_000_000)}"`), {}, 400],
      ['binary junk', Buffer.from([0, 255, 1, 254, 10, 0, 61, 44, 32]), {}, 400],
    ])('refuses %s with a JSON %i and appends nothing', async (_name, body, headers, status) => {
      const started = Date.now();
      const response = await post(api, '/api/v2/write', body, headers);
      expect(await refusalOf(response)).toEqual({ status, json: true, namesError: true });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await entries(api)).toEqual([]);
    });

    it.each([
      ['/api/v2/write?precision=h', 'ns, us, ms, s'],
      ['/api/v2/write?precision=n', 'ns, us, ms, s'],
      ['/write?precision=minutes', 'ns, us, ms, s, n, u, m, h'],
    ])('refuses %s naming the precisions it takes', async (path, precisions) => {
      const response = await post(api, path, 'm,source=a f=1');
      expect(response.status).toBe(400);
      expect((await response.json()).message).toBe(`precision must be one of ${precisions}`);
    });

    it('is still alive and ready after all of that', async () => {
      expect((await fetch(`${api.origin}/readyz`)).status).toBe(200);
      expect((await post(api, '/api/v2/write', 'm,source=a f=1')).status).toBe(204);
    });
  });

  it('refuses, whole, a request whose source the device key may not write', async () => {
    const api = await startApi({}, ['sensor-1']);
    const response = await post(api, '/api/v2/write', 'm,source=sensor-1 f=1\nm,source=sensor-2 f=2');
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'forbidden', forbiddenSources: ['sensor-2'] });
    expect(await entries(api)).toEqual([]);
  });

  it('with INGEST_LINE_OTHER_TAGS=refuse, rejects the points that carry other tags and appends the rest', async () => {
    const api = await startApi({ INGEST_LINE_OTHER_TAGS: 'refuse' });
    const response = await post(
      api,
      '/api/v2/write?precision=s',
      'cpu,host=web-1,cpu=cpu0 usage=1 1772359200\ncpu,host=web-1 usage=2 1772359200',
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: 'invalid',
      accepted: 1,
      rejected: [{ line: 1, message: 'tags other than host are refused here (INGEST_LINE_OTHER_TAGS=refuse): cpu' }],
    });
    expect(await entries(api)).toEqual([
      { source: 'web-1', metric: 'cpu.usage', value: '2', occurredAt: '2026-03-01T10:00:00.000Z' },
    ]);
  });

  it('by default folds the other tags into the metric name, so each tag value is a series of its own', async () => {
    const api = await startApi();
    const body = 'cpu,host=web-1,cpu=cpu0 usage=1 1772359200\ncpu,host=web-1,cpu=cpu1 usage=2 1772359200';
    expect((await post(api, '/api/v2/write?precision=s', body)).status).toBe(204);
    expect((await entries(api)).map(({ source, metric, value }) => [source, metric, value])).toEqual([
      ['web-1', 'cpu.usage.cpu-cpu0', '1'],
      ['web-1', 'cpu.usage.cpu-cpu1', '2'],
    ]);
  });

  it('refuses a request of more events than INGEST_LINE_MAX_EVENTS with 413', async () => {
    const api = await startApi({ INGEST_LINE_MAX_EVENTS: '5' });
    const response = await post(api, '/api/v2/write', 'm,source=a f=1,g=2,h=3\nm,source=a f=4,g=5,h=6');
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'request too large', events: 6, maxEvents: 5 });
  });

  it('answers 429 with Retry-After over the rate limit', async () => {
    const api = await startApi({ INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '1', INGEST_RATE_LIMIT_BURST: '3' });
    expect((await post(api, '/api/v2/write', 'm,source=a f=1,g=2,h=3')).status).toBe(204);
    const response = await post(api, '/api/v2/write', 'm,source=a f=1');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await response.json()).code).toBe('too many requests');
  });

  it('answers 503 with Retry-After while the pipeline is behind, and the Influx client retries until it is in', async () => {
    const api = await startApi({ INGEST_MAX_BACKLOG: '2' });
    await redis.xAdd(api.config.keys.streamKey, '*', { filler: '1' });
    await redis.xAdd(api.config.keys.streamKey, '*', { filler: '2' });
    const refused = await post(api, '/api/v2/write', 'm,source=a f=0');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');

    const writeApi = new InfluxDB({ url: api.origin, token: api.token }).getWriteApi('o', 'b', 'ns', {
      flushInterval: 0,
      maxRetries: 1_000,
      retryJitter: 20,
    });
    writeApi.writeRecord('m,source=a f=1');
    await expect(writeApi.flush()).rejects.toMatchObject({ statusCode: 503 });
    expect(await entries(api)).toHaveLength(2);
    await redis.xTrim(api.config.keys.streamKey, 'MAXLEN', 0);
    await eventually(async () => (await entries(api)).length === 1, 10_000, 'the retried point in the stream');
    expect(await entries(api)).toEqual([{ source: 'a', metric: 'm.f', value: '1', occurredAt: expect.any(String) }]);
    await writeApi.close();
  });
});
