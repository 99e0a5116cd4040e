import { createClient } from '@redis/client';
import { DeviceKeyStore, createAccessKeys, eventFields } from '@redis-ingest/redis-schema';
import { startTcpProxy, testRedisUrl, type TcpProxy } from '@redis-ingest/test-utils';
import {
  BufferFullError,
  ClientClosedError,
  IngestClient,
  type ClientEvents,
  type IngestClientOptions,
  type Rejection,
} from './index.ts';
import { eventIdsInStream, occurrences, startIngestApi, type IngestApiUnderTest } from './test-support/ingest-api.ts';

const events = (count: number, source = 'sensor-1') =>
  Array.from({ length: count }, (_, n) => ({ source, metric: 'temperature', value: n }));

/** A client whose retries come back quickly, so the suites wait for conditions, not for backoff. */
const quickRetries = { initialDelayMs: 20, maxDelayMs: 200 };

function record<K extends keyof ClientEvents>(client: IngestClient, name: K): ClientEvents[K][] {
  const seen: ClientEvents[K][] = [];
  client.on(name, (event) => seen.push(event));
  return seen;
}

/** Every event the client accepted, and the eventIds of the stream, agree one to one. */
async function expectEachOnce(
  under: IngestApiUnderTest,
  accepted: readonly ClientEvents['accepted'][],
  count: number,
): Promise<void> {
  const acceptedIds = accepted.flatMap(({ events }) => events.map(({ eventId }) => eventId));
  expect(new Set(acceptedIds).size).toBe(count);
  const inStream = await eventIdsInStream(under);
  expect(inStream).toHaveLength(count);
  expect([...occurrences(inStream).values()].every((times) => times === 1)).toBe(true);
  expect(new Set(inStream)).toEqual(new Set(acceptedIds));
}

describe('IngestClient against the ingest-api', () => {
  let under: IngestApiUnderTest;
  const plain = createClient({ url: testRedisUrl() });
  beforeAll(() => plain.connect());
  afterAll(() => plain.destroy());

  /** Takes a stream's entries away in one step, as processing and trimming would; returns their eventIds. */
  async function drainStream(stream: string): Promise<string[]> {
    const [entries] = await plain.multi().xRange(stream, '-', '+').del(stream).exec();
    return (entries as unknown as { message: Record<string, string> }[]).map(
      ({ message }) => eventFields(message).eventId!,
    );
  }
  let client: IngestClient | undefined;
  const open = (options: Partial<IngestClientOptions> = {}) =>
    (client = new IngestClient({ url: under.url, retry: quickRetries, ...options }));

  afterEach(async () => {
    await client?.close({ timeoutMs: 1_000 });
    client = undefined;
    await under?.stop();
  });

  it('batches by count, gives every event an eventId, and gzips large bodies', async () => {
    under = await startIngestApi(testRedisUrl());
    const bodies: { encoding: string | null }[] = [];
    const client = open({
      maxBatchEvents: 100,
      flushIntervalMs: 60_000,
      fetch: (input, init) => {
        bodies.push({ encoding: new Headers(init?.headers).get('content-encoding') });
        return fetch(input, init);
      },
    });
    const accepted = record(client, 'accepted');
    await client.sendMany([
      ...events(249),
      { source: 'sensor-1', metric: 'temperature', value: 1, eventId: 'my-own-id' },
    ]);
    await client.flush();
    expect(bodies).toHaveLength(3);
    expect(accepted.map(({ events }) => events.length)).toEqual([100, 100, 50]);
    expect(bodies.every(({ encoding }) => encoding === 'gzip')).toBe(true);
    await expectEachOnce(under, accepted, 250);
    expect(await eventIdsInStream(under)).toContain('my-own-id');
    expect(client.metrics()).toMatchObject({ buffered: 0, accepted: 250, rejected: 0, retried: 0, requests: 3 });
  });

  it('sends a batch that is not full once flushIntervalMs has passed', async () => {
    under = await startIngestApi(testRedisUrl());
    const client = open({ flushIntervalMs: 50, format: 'json' });
    const accepted = record(client, 'accepted');
    const sentAt = Date.now();
    await client.send({ source: 's', metric: 'm', value: 1 });
    await client.send({ source: 's', metric: 'm', value: 2 });
    const deliveredAt = await new Promise<number>((resolve) => client.on('accepted', () => resolve(Date.now())));
    expect(deliveredAt - sentAt).toBeGreaterThanOrEqual(45);
    expect(accepted.map(({ events }) => events.length)).toEqual([2]);
  });

  it('splits batches by bytes, and a batch the server finds too large into halves', async () => {
    under = await startIngestApi(testRedisUrl(), { INGEST_BODY_LIMIT_BYTES: '2048', INGEST_MAX_BATCH: '10' });
    const client = open({ maxBatchBytes: 1500, maxBatchEvents: 40, compression: 'none', flushIntervalMs: 60_000 });
    const accepted = record(client, 'accepted');
    const sizes: number[] = [];
    client.on('accepted', ({ events }) => sizes.push(events.length));
    await client.sendMany(events(40));
    await client.flush();
    // 1500 bytes hold 21 events of about 70 bytes; the ingest-api takes 10 at most, so its 413s split them.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    await expectEachOnce(under, accepted, 40);
  });

  it('reports each event of a 401 as rejected with the server’s error, and retries none', async () => {
    under = await startIngestApi(testRedisUrl(), { INGEST_AUTH_REQUIRED: 'true', INGEST_AUTH_CACHE_MS: '0' });
    const client = open();
    const rejected = record(client, 'rejected');
    await client.sendMany(events(3));
    await client.flush();
    expect(rejected).toEqual(
      [0, 1, 2].map((value) => ({
        event: expect.objectContaining({ value, eventId: expect.any(String) }),
        status: 401,
        message: expect.stringMatching(/device key is required/),
        errors: [],
      })),
    );
    expect(client.metrics()).toMatchObject({ rejected: 3, retried: 0, requests: 1, buffered: 0 });

    const token = await new DeviceKeyStore(under.redis, createAccessKeys(under.config.accessKeys)).add('gateway-1', [
      'sensor-1',
    ]);
    const keyed = new IngestClient({ url: under.url, token });
    const keyedRejected = record(keyed, 'rejected');
    await keyed.sendMany([...events(2), { source: 'elsewhere', metric: 'm', value: 9 }]);
    await keyed.close();
    // The key may not write "elsewhere": that event is refused, the batch's others go in.
    expect(keyedRejected.map(({ event, status }) => [event.source, status])).toEqual([['elsewhere', 403]]);
    expect(keyed.metrics()).toMatchObject({ accepted: 2, rejected: 1 });
  });

  it('reports the invalid events of a batch with their field errors and delivers the rest', async () => {
    under = await startIngestApi(testRedisUrl());
    const client = open();
    const rejected: Rejection[] = record(client, 'rejected');
    await client.sendMany([
      { source: 'a b', metric: 'm', value: 1 },
      ...events(2),
      { source: 's', metric: 'm', value: Number.NaN },
    ]);
    await client.flush();
    expect(rejected.map(({ event, status, errors }) => [event.source, status, errors.map(({ path }) => path)])).toEqual(
      [
        ['a b', 202, ['/source']],
        ['s', 202, ['/value']],
      ],
    );
    expect(client.metrics()).toMatchObject({ accepted: 2, rejected: 2, retried: 0 });
  });

  it('waits out backpressure 503s and delivers every event once', async () => {
    under = await startIngestApi(testRedisUrl(), { INGEST_MAX_BACKLOG: '40' });
    const client = open({ maxBatchEvents: 25, flushIntervalMs: 10 });
    const accepted = record(client, 'accepted');
    const retries = record(client, 'retry');
    const drained: string[] = [];
    // A stand-in worker: once the ingest-api refuses, take the stream's entries away, as processing would.
    client.on('error', ({ status }) => {
      if (status !== 503) return;
      const stream = under.keys.partitions[0]!.stream;
      void drainStream(stream).then((ids) => drained.push(...ids));
    });
    const sentAt = Date.now();
    await client.sendMany(events(100));
    await client.flush();
    expect(retries.some(({ reason }) => reason === 'HTTP 503')).toBe(true);
    // The ingest-api says Retry-After: 1, and the client waited at least that long each time.
    expect(retries.every(({ delayMs }) => delayMs >= 1_000)).toBe(true);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_000);
    const acceptedIds = accepted.flatMap(({ events }) => events.map(({ eventId }) => eventId));
    const all = [...drained, ...(await eventIdsInStream(under))];
    expect(all).toHaveLength(100);
    expect(new Set(all)).toEqual(new Set(acceptedIds));
  });

  it('comes back after a 429 no sooner than Retry-After says', async () => {
    under = await startIngestApi(testRedisUrl(), {
      INGEST_RATE_LIMIT_EVENTS_PER_SECOND: '50',
      INGEST_RATE_LIMIT_BURST: '50',
    });
    const client = open({ maxBatchEvents: 50, flushIntervalMs: 10 });
    const accepted = record(client, 'accepted');
    const retries = record(client, 'retry');
    await client.sendMany(events(120));
    await client.flush();
    const limited = retries.filter(({ reason }) => reason === 'HTTP 429');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every(({ delayMs }) => delayMs >= 1_000)).toBe(true);
    await expectEachOnce(under, accepted, 120);
  });

  describe('through a network that fails', () => {
    let proxy: TcpProxy;
    afterEach(() => proxy.close());

    it('resends when connections close mid-request, and the eventIds keep each event once', async () => {
      under = await startIngestApi(testRedisUrl());
      proxy = await startTcpProxy(under.api.port);
      let answers = 0;
      // Every other answer is lost after the ingest-api appended the batch.
      proxy.cutAnswer = () => answers++ % 2 === 0;
      const client = open({ url: `http://127.0.0.1:${proxy.port}`, maxBatchEvents: 20, flushIntervalMs: 10 });
      const accepted = record(client, 'accepted');
      const failures = record(client, 'error');
      await client.sendMany(events(200));
      await client.flush();
      expect(failures.length).toBeGreaterThan(0);
      expect(client.metrics().duplicates).toBeGreaterThan(0);
      await expectEachOnce(under, accepted, 200);
    });

    it('makes send() wait while the buffer is full, and takes the events once there is room', async () => {
      under = await startIngestApi(testRedisUrl());
      proxy = await startTcpProxy(under.api.port);
      proxy.refuseConnections = true;
      const client = open({ url: `http://127.0.0.1:${proxy.port}`, maxBufferedEvents: 10, flushIntervalMs: 10 });
      const accepted = record(client, 'accepted');
      await client.sendMany(events(10));
      let eleventh = false;
      const waiting = client.send({ source: 'late', metric: 'm', value: 11 }).then(() => (eleventh = true));
      await new Promise<void>((resolve) => client.on('retry', ({ attempt }) => attempt >= 3 && resolve()));
      expect(eleventh).toBe(false);
      expect(client.metrics().buffered).toBe(10);
      proxy.refuseConnections = false;
      await waiting;
      expect(eleventh).toBe(true);
      await client.flush();
      await expectEachOnce(under, accepted, 11);
    });

    it('throws BufferFullError under whenFull: error and takes none of the refused events', async () => {
      under = await startIngestApi(testRedisUrl());
      proxy = await startTcpProxy(under.api.port);
      proxy.refuseConnections = true;
      const client = open({ url: `http://127.0.0.1:${proxy.port}`, maxBufferedEvents: 10, whenFull: 'error' });
      await client.sendMany(events(8));
      await expect(client.sendMany(events(3))).rejects.toThrow(BufferFullError);
      expect(client.metrics().buffered).toBe(8);
      const { undelivered } = await client.close({ timeoutMs: 100 });
      expect(undelivered.map(({ value }) => value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await expect(client.send({ source: 's', metric: 'm', value: 1 })).rejects.toThrow(ClientClosedError);
    });
  });

  it('sends the events of an async iterable in order', async () => {
    under = await startIngestApi(testRedisUrl());
    const client = open({ maxBatchEvents: 30 });
    async function* generate() {
      for (const event of events(75)) yield event;
    }
    expect(await client.sendAll(generate())).toBe(75);
    await client.close();
    const values = (await under.redis.xRange(under.keys.partitions[0]!.stream, '-', '+')).map(({ message }) =>
      Number(eventFields(message).value),
    );
    expect(values).toEqual(events(75).map(({ value }) => value));
  });
});
