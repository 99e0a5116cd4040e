import { createServer, type Server } from 'node:http';
import { createClient } from '@redis/client';
import {
  createRedisClient,
  encodeEvent,
  eventFields,
  packedEntry,
  type RedisClient,
  type RollupStore,
  type Sample,
  type TelemetryEvent,
  type SeriesId,
} from '@redis-ingest/redis-schema';
import { closeServer, createLogger, listen } from '@redis-ingest/service-kit';
import { eventually, isolatedEnv, startRedisServer, testRedisUrl, type RedisServer } from '@redis-ingest/test-utils';
import { createAdminApp } from './admin-server';
import { DrainRequestSchema } from './drain-request';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { processEntries, type ProcessingContext } from './process-entries';
import { prepareProcessing, start, type RunningWorker } from './service';
import { parseGroupReadReply } from './stream-reads';
import { Worker } from './worker';

const logger = createLogger('worker-test', 'silent');
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

function workerConfig(redisUrl: string, overrides: Record<string, string> = {}): WorkerConfig {
  return loadWorkerConfig(isolatedEnv(redisUrl, { WORKER_ADMIN_PORT: '0', WORKER_BLOCK_MS: '200', ...overrides }));
}

function eventAt(series: SeriesId, value: number, timestampMs: number): TelemetryEvent {
  return { ...series, value, occurredAt: new Date(timestampMs).toISOString() };
}

/** The entry the ingest-api writes. */
function ingestEntry(series: SeriesId, value: number, timestampMs: number): Record<string, string> {
  return packedEntry(eventAt(series, value, timestampMs));
}

/** The same event in five fields of its own, as anything else may write it. */
function fieldsEntry(series: SeriesId, value: number, timestampMs: number): Record<string, string> {
  return encodeEvent(eventAt(series, value, timestampMs));
}

async function errorOf(response: Response): Promise<unknown> {
  return ((await response.json()) as { error?: unknown }).error;
}

describe('worker against a live Redis', () => {
  const redis = createClient({ url: testRedisUrl() });
  const clients: RedisClient[] = [];
  let config: WorkerConfig;

  beforeAll(() => redis.connect());
  afterAll(() => redis.destroy());
  beforeEach(() => {
    config = workerConfig(testRedisUrl());
  });
  afterEach(() => {
    for (const client of clients.splice(0)) if (client.isOpen) client.destroy();
  });

  async function processingContext(): Promise<ProcessingContext> {
    const client = createRedisClient(config.redis, { name: 'worker-test', logger });
    clients.push(client);
    await client.connect();
    return prepareProcessing(client, config, logger);
  }

  const group = () => config.consumerGroup;
  const stream = () => config.keys.streamKey;
  const xadd = (fields: Record<string, string>) => redis.xAdd(stream(), '*', fields);
  const pendingCount = async () => (await redis.xPending(stream(), group())).pending;
  const groupInfo = async () => (await redis.xInfoGroups(stream())).find(({ name }) => name === group())!;
  /** Every entry of the stream delivered to some consumer and acked. */
  const allAcked = async () => {
    const info = await groupInfo();
    return info.lag === 0 && info.pending === 0;
  };
  const deadLetters = async () => redis.xRange(config.keys.deadLetterKey, '-', '+');
  /** The server's CLIENT LIST lines of the connections whose name starts with `prefix`. */
  const clientsNamed = async (prefix: string) =>
    ((await redis.sendCommand(['CLIENT', 'LIST'])) as string)
      .split('\n')
      .filter((line) => line.includes(` name=${prefix}`));

  describe('the daemon', () => {
    let service: RunningWorker;

    beforeEach(async () => {
      config = workerConfig(testRedisUrl(), { INGEST_RAW_RETENTION_MS: '60000' });
      service = await start(config, logger);
    });
    afterEach(() => service.close());

    it('stores valid entries, dead-letters the rest with all five fields, and leaves nothing pending', async () => {
      const temperature = { source: 'sensor-1', metric: 'temperature' };
      const humidity = { source: 'sensor-2', metric: 'humidity' };
      const ids = {
        valid: await xadd(ingestEntry(temperature, 20, T0)),
        wrongValue: await xadd({ ...fieldsEntry(temperature, 0, T0 + 200), value: 'hot' }),
        laterValid: await xadd(ingestEntry(temperature, 21.5, T0 + 1_000)),
        noTime: await xadd({ source: 'sensor-1', metric: 'temperature', value: '1' }),
        badSource: await xadd(ingestEntry({ source: 'bad:name', metric: 'temperature' }, 1, T0)),
        other: await xadd(ingestEntry(humidity, 55, T0 + 500)),
        extraField: await xadd({ ...fieldsEntry(humidity, 56, T0 + 600), note: 'x' }),
        // Older than the raw retention behind the newest sample of its series: the store refuses it.
        tooOld: await xadd(ingestEntry(temperature, 99, T0 - 3_600_000)),
      };
      const expectedReasons: Record<string, RegExp> = {
        [ids.wrongValue]: /^\/value: /,
        [ids.noTime]: /^\/occurredAt: /,
        [ids.badSource]: /^\/source: /,
        [ids.extraField]: /^\/note: /,
        [ids.tooOld]: /older than retention/,
      };

      await eventually(async () => (await allAcked()) && (await redis.xLen(config.keys.deadLetterKey)) === 5);

      const store = service.context.store;
      const window = { fromMs: 0, toMs: T0 + 60_000, limit: 100 };
      expect(await store.range(temperature, window)).toEqual([
        { timestampMs: T0, value: 20 },
        { timestampMs: T0 + 1_000, value: 21.5 },
      ]);
      expect(await store.range(humidity, window)).toEqual([{ timestampMs: T0 + 500, value: 55 }]);
      const [latestTemperature] = await store.latest([temperature]);
      expect(latestTemperature!.raw).toEqual({ timestampMs: T0 + 1_000, value: 21.5 });

      const letters = await deadLetters();
      expect(letters.map(({ message }) => message.messageId).sort()).toEqual(Object.keys(expectedReasons).sort());
      const originals = await redis.xRange(stream(), '-', '+');
      for (const { message } of letters) {
        expect(Object.keys(message).sort()).toEqual(['consumer', 'failedAt', 'messageId', 'payload', 'reason']);
        expect(message.reason).toMatch(expectedReasons[message.messageId!]!);
        const original = originals.find(({ id }) => id === message.messageId)!;
        expect(JSON.parse(message.payload!)).toEqual(eventFields(original.message));
        expect(new Date(message.failedAt!).toISOString()).toBe(message.failedAt);
        expect(message.consumer).toBe(service.consumer);
      }
      expect(await pendingCount()).toBe(0);
    });

    it('stores valid entries in another shape than the ingest-api writes', async () => {
      const series = { source: 'sensor-9', metric: 'pressure' };
      const odd: Record<string, string>[] = [
        { metric: series.metric, source: series.source, value: '1.50', occurredAt: '2026-03-01T12:00:00+02:00' },
        { ...fieldsEntry(series, 2, T0 + 1_000), value: '2e0' },
        { ...fieldsEntry(series, 3, T0 + 2_000), occurredAt: '2026-03-01T10:00:02Z' },
      ];
      for (const fields of odd) await xadd(fields);
      await eventually(allAcked);
      expect(await service.context.store.range(series, { fromMs: 0, toMs: T0 + 60_000, limit: 10 })).toEqual([
        { timestampMs: T0, value: 1.5 },
        { timestampMs: T0 + 1_000, value: 2 },
        { timestampMs: T0 + 2_000, value: 3 },
      ]);
      expect(await deadLetters()).toEqual([]);
    });

    it('takes an entry that arrives while it waits at once, not after its block time', async () => {
      await service.close();
      config = workerConfig(testRedisUrl(), { WORKER_BLOCK_MS: '30000' });
      service = await start(config, logger);
      const series = { source: 'late-1', metric: 'level' };
      await xadd(ingestEntry(series, 1, T0));
      await eventually(allAcked);
      // The worker now waits for something new; this entry must end the wait.
      await xadd(ingestEntry(series, 2, T0 + 1_000));
      await eventually(allAcked, 10_000);
      expect(await service.context.store.range(series, { fromMs: T0, toMs: T0 + 1_000, limit: 10 })).toHaveLength(2);
    });

    it('answers the health check', async () => {
      const response = await fetch(`http://127.0.0.1:${service.adminPort}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', consumer: service.consumer });
    });

    it('serves its OpenAPI document, describing the drain with the schema that validates it', async () => {
      const response = await fetch(`http://127.0.0.1:${service.adminPort}/openapi.json`);
      expect(response.status).toBe(200);
      type Operation = {
        requestBody?: { content: Record<string, { schema: unknown }> };
        responses: Record<string, unknown>;
      };
      const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, Operation>> };
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths).sort()).toEqual([
        '/api/ingest/workers/process',
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/readyz',
      ]);
      const drain = document.paths['/api/ingest/workers/process']!.post;
      expect(drain!.requestBody!.content['application/json']!.schema).toEqual(
        JSON.parse(JSON.stringify(DrainRequestSchema)),
      );
      expect(Object.keys(drain!.responses).sort()).toEqual(['200', '400', '401', '415', '503']);
      expect(Object.keys(document.paths['/readyz']!.get!.responses).sort()).toEqual(['200', '503']);
    });

    it('stops reading when closed, and close() can be called again', async () => {
      // While it runs, the daemon takes what is added.
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 1, T0));
      await eventually(allAcked);

      const closing = service.close();
      expect(service.close()).toBe(closing);
      await closing;
      // With none of its connections left, nothing of the daemon can read what comes after.
      const closedAll = async () => (await clientsNamed(`worker:${service.consumer}`)).length === 0;
      await eventually(closedAll, 2_000, 'every connection of the daemon closed');
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 2, T0 + 1));
      expect((await groupInfo()).lag).toBe(1);
    });
  });

  describe('processEntries', () => {
    it('takes entries from any source, claimed ones included', async () => {
      const context = await processingContext();
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 1, T0));
      await xadd({ source: 's', metric: 'm', value: 'NaN', occurredAt: new Date(T0).toISOString() });
      // A consumer reads them and dies; another claims them, as a reclaim loop would.
      await redis.sendCommand(['XREADGROUP', 'GROUP', group(), 'gone', 'COUNT', '10', 'STREAMS', stream(), '>']);
      const [, claimed] = (await redis.sendCommand(['XAUTOCLAIM', stream(), group(), 'heir', '0', '0-0'])) as [
        string,
        unknown[],
      ];
      const pending = (await redis.sendCommand(['XPENDING', stream(), group(), '-', '+', '10'])) as [
        string,
        string,
        number,
        number,
      ][];
      const deliveries = new Map(pending.map(([id, , , count]) => [id, count]));
      const entries = parseGroupReadReply([[stream(), claimed]]).map((entry) => ({
        ...entry,
        deliveryCount: deliveries.get(entry.id)!,
      }));
      expect(entries.map(({ deliveryCount }) => deliveryCount)).toEqual([2, 2]);

      const outcome = await processEntries(context, 'heir', context.keys.partitions[0]!, entries);

      expect(outcome).toEqual({ read: 2, processed: 1, deadLettered: 1, acked: 2 });
      const [letter] = await deadLetters();
      expect(letter!.message).toMatchObject({ messageId: entries[1]!.id, consumer: 'heir' });
      expect(await pendingCount()).toBe(0);
    });

    it('acks nothing when the store cannot be reached, so the entries stay pending', async () => {
      const context = await processingContext();
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 1, T0));
      await xadd({ source: 's' });
      const reply = await redis.sendCommand([
        'XREADGROUP',
        'GROUP',
        group(),
        'c',
        'COUNT',
        '10',
        'STREAMS',
        stream(),
        '>',
      ]);
      const entries = parseGroupReadReply(reply);
      context.client.destroy();

      await expect(processEntries(context, 'c', context.keys.partitions[0]!, entries)).rejects.toThrow();
      expect(await pendingCount()).toBe(2);
      expect(await redis.xLen(config.keys.deadLetterKey)).toBe(0);
    });

    it('leaves an entry pending when Redis refuses its dead letter, and acks the others', async () => {
      const context = await processingContext();
      await redis.set(config.keys.deadLetterKey, 'not a stream');
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 1, T0));
      const badId = await xadd({ source: 's' });
      const reply = await redis.sendCommand([
        'XREADGROUP',
        'GROUP',
        group(),
        'c',
        'COUNT',
        '10',
        'STREAMS',
        stream(),
        '>',
      ]);

      const outcome = await processEntries(context, 'c', context.keys.partitions[0]!, parseGroupReadReply(reply));

      expect(outcome).toEqual({ read: 2, processed: 1, deadLettered: 0, acked: 1 });
      const pending = (await redis.sendCommand(['XPENDING', stream(), group(), '-', '+', '10'])) as [
        string,
        ...unknown[],
      ][];
      expect(pending.map(([id]) => id)).toEqual([badId]);
    });
  });

  describe('Worker', () => {
    const workers: Worker[] = [];
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((worker) => worker.close()));
    });

    /** The real store, its writes held until releaseWrite(); `writing` settles at the first. */
    function holdWrites(store: RollupStore) {
      let writeCount = 0;
      let batchInHand!: () => void;
      const writing = new Promise<void>((resolve) => (batchInHand = resolve));
      let releaseWrite!: () => void;
      const released = new Promise<void>((resolve) => (releaseWrite = resolve));
      const heldStore: RollupStore = Object.assign(Object.create(store) as RollupStore, {
        addSamples: async (samples: readonly Sample[]) => {
          writeCount += 1;
          batchInHand();
          await released;
          return store.addSamples(samples);
        },
      });
      return { heldStore, writing, releaseWrite, writes: () => writeCount };
    }

    /** How often each pending entry has been delivered, oldest first. */
    async function deliveryCounts(): Promise<number[]> {
      const pending = (await redis.xPendingRange(stream(), group(), '-', '+', 100)) as { deliveriesCounter: number }[];
      return pending.map(({ deliveriesCounter }) => deliveriesCounter);
    }

    function newWorker(context: ProcessingContext, consumer: string, overrides: Partial<WorkerConfig> = {}): Worker {
      const worker = new Worker({ context, consumer, config: { ...config, ...overrides } });
      workers.push(worker);
      return worker;
    }

    it('returns promptly from close() during a blocking read, and run() resolves', async () => {
      const worker = newWorker(await processingContext(), 'sleeper', { blockMs: 20_000 });
      const running = worker.run();
      await expect(worker.run()).rejects.toThrow(/already running/);
      const blockedReader = () => clientsNamed('worker:sleeper:blocking');
      await eventually(async () => (await blockedReader()).some((line) => / flags=\S*b/.test(line)));

      const started = Date.now();
      await worker.close();
      await running;
      expect(Date.now() - started).toBeLessThan(1_000);
      await eventually(async () => (await blockedReader()).length === 0, 2_000);
      await expect(worker.run()).rejects.toThrow(/closed/);
    });

    it('finishes and acks the batch in hand when closed mid-batch, then leaves the group', async () => {
      const context = await processingContext();
      // Held at its first write until the test has called close().
      const { heldStore, writing, releaseWrite } = holdWrites(context.store);
      const worker = newWorker({ ...context, store: heldStore }, 'closer');
      const running = worker.run();
      const series = { source: 's', metric: 'm' };
      await Promise.all([1, 2, 3].map((k) => xadd(ingestEntry(series, k, T0 + k))));
      await writing;
      const consumers = async () => (await redis.xInfoConsumers(stream(), group())).map(({ name }) => name);
      expect(await consumers()).toContain('closer');

      let closed = false;
      const closing = worker.close().then(() => (closed = true));
      // close() has done all it can without the batch once its blocking reads are gone.
      await eventually(
        async () => (await clientsNamed('worker:closer:blocking')).length === 0,
        2_000,
        'blocking reads ended',
      );
      expect(closed).toBe(false);
      releaseWrite();
      await closing;
      expect(closed).toBe(true);
      await running;

      const { read, acked } = worker.totals;
      expect(read).toBeGreaterThan(0);
      expect(acked).toBe(read);
      expect(await pendingCount()).toBe(0);
      expect(await context.store.range(series, { fromMs: T0, toMs: T0 + 3, limit: 10 })).toHaveLength(read);
      expect(await consumers()).not.toContain('closer');
    });

    it('writes the next batch while the one before is writing, two at most, and never reclaims what it holds', async () => {
      const context = await processingContext();
      const { heldStore, writing, releaseWrite, writes } = holdWrites(context.store);
      const worker = newWorker({ ...context, store: heldStore }, 'overlapping', {
        readCount: 2,
        reclaimIdleMs: 100,
        reclaimIntervalMs: 50,
      });
      const series = { source: 's', metric: 'm' };
      for (const k of [1, 2, 3, 4, 5, 6]) await xadd(ingestEntry(series, k, T0 + k));
      void worker.run();
      await writing;
      await eventually(async () => writes() === 2, 2_000, 'a second batch writing beside the first');
      // Held well past the idle time, for several rounds of the reclaim loop: each claims every entry
      // the worker holds again, the batch read ahead included.
      await eventually(
        async () => {
          const counts = await deliveryCounts();
          return counts.length === 6 && counts.every((count) => count >= 3);
        },
        5_000,
        'the reclaim loop claiming the held batches',
      );
      expect(writes()).toBe(2);
      releaseWrite();
      await eventually(allAcked);

      expect(worker.totals).toMatchObject({ reclaimed: 0, processed: 6, acked: 6 });
      expect(writes()).toBe(3);
      expect(await context.store.range(series, { fromMs: T0, toMs: T0 + 6, limit: 10 })).toHaveLength(6);
    });

    it('shares a group with another worker: each of 3,000 events processed exactly once', async () => {
      const context = await processingContext();
      const pair = [newWorker(context, 'one', { readCount: 50 }), newWorker(context, 'two', { readCount: 50 })];
      const running = pair.map((worker) => worker.run());
      const series = Array.from({ length: 20 }, (_, i) => ({ source: `device-${i}`, metric: 'load' }));
      const perSeries = 150;
      const writes: Promise<string>[] = [];
      for (let k = 0; k < perSeries; k++) {
        for (const [i, one] of series.entries()) writes.push(xadd(ingestEntry(one, i * 1_000 + k, T0 + k * 1_000)));
      }
      await Promise.all(writes);

      await eventually(allAcked, 30_000);
      // The last batch's ack can reach Redis before its worker has counted it; closing waits for that.
      await Promise.all(pair.map((worker) => worker.close()));
      await Promise.all(running);

      const totals = pair.map((worker) => worker.totals);
      expect(totals.every(({ read }) => read > 0)).toBe(true);
      const sum = (field: 'read' | 'processed' | 'deadLettered' | 'acked') =>
        totals.reduce((total, one) => total + one[field], 0);
      expect([sum('read'), sum('processed'), sum('deadLettered'), sum('acked')]).toEqual([3_000, 3_000, 0, 3_000]);
      expect(await groupInfo()).toMatchObject({ 'entries-read': 3_000, pending: 0, lag: 0 });
      for (const [i, one] of series.entries()) {
        const points = await context.store.range(one, { fromMs: T0, toMs: T0 + perSeries * 1_000, limit: 1_000 });
        expect(points).toEqual(
          Array.from({ length: perSeries }, (_, k) => ({ timestampMs: T0 + k * 1_000, value: i * 1_000 + k })),
        );
      }
    });
  });

  describe('the HTTP drain', () => {
    let server: Server;
    let url: string;
    let context: ProcessingContext;

    beforeEach(async () => {
      context = await processingContext();
      server = createServer(createAdminApp({ context, consumer: 'daemon-1', logger }));
      url = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
    });
    afterEach(() => closeServer(server));

    const drain = (body?: string, contentType = 'application/json') =>
      fetch(`${url}/api/ingest/workers/process`, {
        method: 'POST',
        ...(body === undefined ? {} : { body, headers: { 'content-type': contentType } }),
      });

    it('reads once without blocking and answers the exact counts', async () => {
      const series = { source: 'pump-3', metric: 'pressure' };
      await xadd(ingestEntry(series, 1, T0));
      await xadd({ source: 'pump-3' });
      await xadd(ingestEntry(series, 2, T0 + 1_000));
      await xadd(ingestEntry(series, 3, T0 + 2_000));
      await xadd({ ...ingestEntry(series, 4, T0 + 3_000), value: '' });

      const first = await drain(JSON.stringify({ count: 4 }));
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ read: 4, processed: 3, dead_lettered: 1, acked: 4 });
      expect(await (await drain()).json()).toEqual({ read: 1, processed: 0, dead_lettered: 1, acked: 1 });
      const started = Date.now();
      expect(await (await drain('{}')).json()).toEqual({ read: 0, processed: 0, dead_lettered: 0, acked: 0 });
      expect(Date.now() - started).toBeLessThan(500);

      await xadd(ingestEntry(series, 5, T0 + 4_000));
      expect(await (await drain(JSON.stringify({ consumer: 'ops.manual-1', count: 1 }))).json()).toEqual({
        read: 1,
        processed: 1,
        dead_lettered: 0,
        acked: 1,
      });

      const consumers = await redis.xInfoConsumers(stream(), group());
      expect(consumers.map(({ name }) => name).sort()).toEqual(['daemon-1-manual', 'ops.manual-1']);
      expect(await pendingCount()).toBe(0);
      expect(
        (await context.store.range(series, { fromMs: 0, toMs: T0 + 10_000, limit: 10 })).map(({ value }) => value),
      ).toEqual([1, 2, 3, 5]);
      expect((await deadLetters()).map(({ message }) => message.consumer)).toEqual([
        'daemon-1-manual',
        'daemon-1-manual',
      ]);
    });

    it.each([
      ['a count of 0', 400, JSON.stringify({ count: 0 }), 'application/json'],
      ['a count over 1000', 400, JSON.stringify({ count: 1_001 }), 'application/json'],
      ['a fractional count', 400, JSON.stringify({ count: 1.5 }), 'application/json'],
      ['a count as a string', 400, JSON.stringify({ count: '5' }), 'application/json'],
      ['a consumer with a space', 400, JSON.stringify({ consumer: 'a b' }), 'application/json'],
      ['an empty consumer', 400, JSON.stringify({ consumer: '' }), 'application/json'],
      ['an unknown field', 400, JSON.stringify({ counts: 5 }), 'application/json'],
      ['a JSON array', 400, '[]', 'application/json'],
      ['malformed JSON', 400, '{"count":', 'application/json'],
      ['a non-JSON content type', 415, 'count=5', 'text/plain'],
    ])('answers %s with a JSON %i and reads nothing', async (_, status, body, contentType) => {
      await xadd(ingestEntry({ source: 's', metric: 'm' }, 1, T0));
      const response = await drain(body, contentType);
      expect(response.status).toBe(status);
      expect(typeof (await errorOf(response))).toBe('string');
      expect((await groupInfo()).lag).toBe(1);
    });

    it('answers 404 in JSON for an unknown route', async () => {
      const response = await fetch(`${url}/api/ingest/workers`);
      expect(response.status).toBe(404);
      expect(typeof (await errorOf(response))).toBe('string');
    });
  });
});

describe('worker when Redis goes away', () => {
  let server: RedisServer;
  let config: WorkerConfig;

  beforeEach(async () => {
    server = await startRedisServer();
    config = workerConfig(server.url);
  });
  afterEach(() => server.stop());

  it('answers 503, not 500, from the admin server while Redis is down, and stays alive', async () => {
    const service = await start(config, logger);
    try {
      await server.kill();
      const base = `http://127.0.0.1:${service.adminPort}`;
      await eventually(async () => (await fetch(`${base}/readyz`)).status === 503);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const response = await fetch(`${base}/api/ingest/workers/process`, { method: 'POST' });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await errorOf(response)).toMatch(/unavailable/);
    } finally {
      await service.close();
    }
  });

  it('carries on after a restart that lost every key, group included', async () => {
    const service = await start(config, logger);
    const redis = createClient({ url: server.url });
    try {
      await server.restart();
      await redis.connect();
      const series = { source: 'after', metric: 'restart' };
      await redis.xAdd(config.keys.streamKey, '*', ingestEntry(series, 7, T0));
      await eventually(
        async () => (await service.context.store.range(series, { fromMs: 0, toMs: T0, limit: 1 })).length === 1,
      );
      await eventually(async () => (await redis.xPending(config.keys.streamKey, config.consumerGroup)).pending === 0);
    } finally {
      redis.destroy();
      await service.close();
    }
  });
});
