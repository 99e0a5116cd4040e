import { createClient } from '@redis/client';
import { createKeys, EVENT_FIELD, eventFields } from '@redis-ingest/redis-schema';
import { freePort, isolatedEnv, startRedisServer, testRedisUrl } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

function ingestConfig(redisUrl: string, env: Record<string, string> = {}): IngestConfig {
  return loadIngestConfig(
    isolatedEnv(redisUrl, {
      INGEST_API_PORT: '0',
      INGEST_API_HOST: '127.0.0.1',
      INGEST_BODY_LIMIT_BYTES: '4096',
      INGEST_MAX_BATCH: '5',
      INGEST_REDIS_TIMEOUT_MS: '5000',
      ...env,
    }),
  );
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
  });
  afterEach(() => api.stop());

  const post = (body: string, contentType = 'application/json') =>
    fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('appends a valid event as one packed field and echoes it with the stream id', async () => {
    const event = { source: 'sensor-1', metric: 'temperature', value: 21.5, occurredAt: '2026-03-01T10:00:00.250Z' };
    const response = await post(JSON.stringify(event));
    expect(response.status).toBe(202);
    const body = await response.json();
    expect(body).toEqual({ id: expect.stringMatching(/^\d+-\d+$/), value: event });
    const entries = await redis.xRange(config.keys.streamKey, '-', '+');
    expect(entries).toEqual([
      {
        id: body.id,
        message: { [EVENT_FIELD]: `sensor-1 temperature 21.5 ${event.occurredAt}` },
      },
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
    [
      'a body over the limit',
      JSON.stringify({ source: 's', metric: 'm', value: 1, pad: 'x'.repeat(4096) }),
      'application/json',
      413,
    ],
  ])('answers %s with a JSON %i', async (_, body, contentType, status) => {
    const response = await post(body, contentType);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(typeof (await response.json()).error).toBe('string');
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });

  it('appends the valid events of a JSON array and reports the invalid ones by index', async () => {
    const events = [
      { source: 'a', metric: 'm', value: 1, occurredAt: '2026-03-01T10:00:00Z' },
      { source: 'a b', metric: 'm', value: 2 },
      { source: 'b', metric: 'm', value: 3, occurredAt: '2026-03-01T10:00:01Z' },
    ];
    const response = await post(JSON.stringify(events));
    expect(response.status).toBe(202);
    const body = await response.json();
    expect(body).toEqual({
      accepted: 2,
      ids: [expect.any(String), expect.any(String)],
      duplicates: 0,
      rejected: [{ index: 1, errors: [expect.objectContaining({ path: '/source' })] }],
    });
    const entries = await redis.xRange(config.keys.streamKey, '-', '+');
    expect(entries.map(({ id, message }) => [id, eventFields(message).source, eventFields(message).value])).toEqual([
      [body.ids[0], 'a', '1'],
      [body.ids[1], 'b', '3'],
    ]);
  });

  it('takes NDJSON and rejects a malformed line by index', async () => {
    const body = [
      '{"source":"a","metric":"m","value":1}',
      '{"source":',
      '',
      '{"source":"b","metric":"m","value":2}',
    ].join('\n');
    const response = await post(body, 'application/x-ndjson');
    expect(response.status).toBe(202);
    const answer = await response.json();
    expect(answer.accepted).toBe(2);
    expect(answer.rejected).toEqual([{ index: 1, errors: [{ path: '', message: 'Malformed JSON' }] }]);
    expect(await redis.xLen(config.keys.streamKey)).toBe(2);
  });

  it('answers 400 when no event of a batch is valid, and 413 over the batch limit', async () => {
    expect((await post(JSON.stringify([{ value: 1 }]))).status).toBe(400);
    expect((await post('[]')).status).toBe(400);
    const tooMany = Array.from({ length: 6 }, () => ({ source: 's', metric: 'm', value: 1 }));
    const response = await post(JSON.stringify(tooMany));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ events: 6, maxBatch: 5 });
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });

  it('appends an event id once and answers a retry with the first stream id', async () => {
    const event = { source: 's', metric: 'm', value: 1, eventId: 'evt-1' };
    const first = await post(JSON.stringify(event));
    const retry = await post(JSON.stringify({ ...event, value: 2 }));
    expect(first.status).toBe(202);
    expect(retry.status).toBe(200);
    const firstId = (await first.json()).id;
    expect((await retry.json()).id).toBe(firstId);
    const entries = await redis.xRange(config.keys.streamKey, '-', '+');
    expect(entries).toHaveLength(1);
    expect(eventFields(entries[0]!.message)).toMatchObject({ value: '1', eventId: 'evt-1' });
    const ttl = await redis.pTTL(`${config.keys.streamKey}:idempotency:evt-1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(config.idempotencyWindowMs);
  });

  it('takes the event id from the Idempotency-Key header, and refuses it on a batch', async () => {
    const send = (body: unknown) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'key-9' },
        body: JSON.stringify(body),
      });
    const first = await send({ source: 's', metric: 'm', value: 1 });
    const second = await send({ source: 's', metric: 'm', value: 1 });
    expect([first.status, second.status]).toEqual([202, 200]);
    expect((await second.json()).id).toBe((await first.json()).id);
    expect((await send({ source: 's', metric: 'm', value: 1, eventId: 'other' })).status).toBe(400);
    expect((await send([{ source: 's', metric: 'm', value: 1 }])).status).toBe(400);
    expect(await redis.xLen(config.keys.streamKey)).toBe(1);
  });

  it('drops duplicates inside one batch', async () => {
    const event = { source: 's', metric: 'm', value: 1, eventId: 'dup' };
    const response = await post(JSON.stringify([event, event]));
    const body = await response.json();
    expect(body).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(body.ids[0]).toBe(body.ids[1]);
    expect(await redis.xLen(config.keys.streamKey)).toBe(1);
  });

  it('describes its routes in /openapi.json with the event schema', async () => {
    const document = await (await fetch(`http://127.0.0.1:${api.port}/openapi.json`)).json();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/ingest/events',
      '/api/v2/write',
      '/healthz',
      '/metrics',
      '/openapi.json',
      '/readyz',
      '/write',
    ]);
    const post = document.paths['/api/ingest/events'].post;
    expect(Object.keys(post.responses).sort()).toEqual(['200', '202', '400', '401', '403', '413', '415', '429', '503']);
    const single = post.requestBody.content['application/json'].schema.anyOf[0];
    expect(single.required).toEqual(['source', 'metric', 'value']);
    expect(single.additionalProperties).toBe(false);
  });

  it('answers 404 in JSON for an unknown route', async () => {
    const response = await fetch(`http://127.0.0.1:${api.port}/nope`);
    expect(response.status).toBe(404);
    expect((await response.json()).error).toMatch(/nope/);
  });
});

describe('ingest-api backpressure', () => {
  it('answers 503 with Retry-After once the backlog reaches the limit, and 2xx again once drained', async () => {
    const redis = createClient({ url: testRedisUrl() });
    await redis.connect();
    const config = ingestConfig(testRedisUrl(), { INGEST_MAX_BACKLOG: '3' });
    const api = await start(config);
    const url = `http://127.0.0.1:${api.port}/api/ingest/events`;
    const post = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 's', metric: 'm', value: 1 }),
      });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await post()).status);
      expect(statuses).toEqual([202, 202, 202, 503, 503]);
      const refused = await post();
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toMatchObject({ backlog: 3 });
      expect(await redis.xLen(config.keys.streamKey)).toBe(3);

      // A group that has read and acknowledged everything has no backlog left.
      await redis.xGroupCreate(config.keys.streamKey, config.consumerGroup, '0');
      const read = (await redis.xReadGroup(
        config.consumerGroup,
        'c',
        { key: config.keys.streamKey, id: '>' },
        { COUNT: 2 },
      )) as { messages: { id: string }[] }[] | null;
      const ids = read![0]!.messages.map((message) => message.id);
      expect((await post()).status).toBe(503);
      await redis.xAck(config.keys.streamKey, config.consumerGroup, ids);
      expect((await post()).status).toBe(202);
    } finally {
      await api.stop();
      redis.destroy();
    }
  });
});

describe('ingest-api waiting for replicas', () => {
  const event = JSON.stringify({ source: 's', metric: 'm', value: 1 });
  const post = (port: number) =>
    fetch(`http://127.0.0.1:${port}/api/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: event,
    });

  it('answers 2xx once a replica has the entry, and 503 when none acknowledges in time', async () => {
    const primary = await startRedisServer();
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    const config = ingestConfig(primary.url, { INGEST_WAIT_REPLICAS: '1', INGEST_WAIT_TIMEOUT_MS: '300' });
    const api = await start(config);
    const replicaClient = createClient({ url: replica.url });
    try {
      await replicaClient.connect();
      let status = 0;
      // The replica's first sync takes a moment; until then WAIT counts no replica.
      for (let attempt = 0; attempt < 50 && status !== 202; attempt++) status = (await post(api.port)).status;
      expect(status).toBe(202);
      const before = await replicaClient.xLen(config.keys.streamKey);
      expect((await post(api.port)).status).toBe(202);
      // A 2xx promised the entry is on the replica already: read it there without waiting.
      expect(await replicaClient.xLen(config.keys.streamKey)).toBe(before + 1);

      replicaClient.destroy();
      await replica.kill();
      const refused = await post(api.port);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ replicas: 0 });
    } finally {
      await api.stop();
      if (replicaClient.isOpen) replicaClient.destroy();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe('ingest-api with stream partitions on one server', () => {
  it('writes each source to its partition and waits once for the replica of all of them', async () => {
    // Without the delay the replica's first sync would wait 5 s for others to join it.
    const primary = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    const config = ingestConfig(primary.url, {
      INGEST_STREAM_PARTITIONS: '3',
      INGEST_WAIT_REPLICAS: '1',
      INGEST_WAIT_TIMEOUT_MS: '300',
    });
    const keys = createKeys(config.keys);
    const api = await start(config);
    const redis = createClient({ url: primary.url });
    const post = (body: unknown) =>
      fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const batch = ['a', 'b', 'c', 'd', 'e'].map((source, value) => ({ source, metric: 'm', value }));
    try {
      await redis.connect();
      let status = 0;
      // The replica's first sync takes a moment; until then WAIT counts no replica.
      for (let attempt = 0; attempt < 50 && status !== 202; attempt++) status = (await post(batch.slice(0, 1))).status;
      expect(status).toBe(202);
      const waitCalls = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
      const waitsBefore = await waitCalls();
      const response = await post(batch);
      expect(response.status).toBe(202);
      expect(await waitCalls()).toBe(waitsBefore + 1);
      const { ids } = (await response.json()) as { ids: string[] };
      for (const partition of keys.partitions) {
        const stored = (await redis.xRange(partition.stream, '-', '+')).map(({ id, message }) => [
          id,
          eventFields(message).source,
        ]);
        const expected = batch.flatMap(({ source }, n) =>
          keys.partitionFor(source) === partition ? [[ids[n], source]] : [],
        );
        expect(stored.slice(-expected.length)).toEqual(expected);
      }
      expect(new Set(batch.map(({ source }) => keys.partitionFor(source))).size).toBeGreaterThan(1);

      await replica.kill();
      const refused = await post(batch);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ replicas: 0 });
    } finally {
      await api.stop();
      redis.destroy();
      await replica.stop();
      await primary.stop();
    }
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
