import { connect } from 'node:net';
import fc from 'fast-check';
import { createClient } from '@redis/client';
import { createRedisClient, createRollupStore, decodeEntry, eventFields } from '@redis-ingest/redis-schema';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadIngestConfig } from '../../apps/ingest-api/src/config';
import {
  INGEST_MAIN,
  QUERY_MAIN,
  eventually,
  killHard,
  pipelineEnv,
  spawnService,
  spawnWorker,
  type ServiceProcess,
} from './support';

/**
 * Random hostile requests to all three services, each a process of its own as in production,
 * seeded so a failure replays as it was: FC_SEED picks the run (the failure message prints it),
 * FC_RUNS its length. Every answer must be a JSON 4xx, a 2xx, or a 503; no connection may end
 * unanswered; no process may exit; no key may appear outside the configured names; and every event
 * answered 2xx must reach its series or the dead letters.
 */
const seed = Number(process.env.FC_SEED ?? 20_261_130);
const numRuns = Number(process.env.FC_RUNS ?? 3_000);

const name = fc.oneof(
  { arbitrary: fc.stringMatching(/^[a-z][a-z0-9._-]{0,12}$/), weight: 4 },
  { arbitrary: fc.constantFrom('', 'a b', 'a{b}', 'a:b', 'x'.repeat(129), 'Zürich', '__proto__', 'a\nb'), weight: 1 },
);
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1.7976931348623157e308, 1e292, -1e292, 5e-324, -0, '1', null, true),
);
const occurredAt = fc.oneof(
  fc
    .date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    '9999-12-31T23:59:59-00:01',
    '1970-01-01T00:00:00+00:01',
    '2026-02-30T00:00:00Z',
    '2026-03-01T10:00:00',
    'now',
    '',
  ),
);
const fields = fc.record(
  { source: name, metric: name, value, occurredAt, eventId: name },
  { requiredKeys: ['source', 'metric', 'value'] },
);
const event = fc.oneof(
  { arbitrary: fields, weight: 4 },
  {
    arbitrary: fc
      .tuple(fields, fc.constantFrom('source', 'metric', 'value'))
      .map(([one, missing]) => ({ ...one, [missing]: undefined })),
    weight: 1,
  },
  { arbitrary: fields.map((one) => ({ ...one, extra: 1 })), weight: 1 },
);
const streamId = fc.oneof(
  fc
    .tuple(fc.bigInt({ min: 0n, max: 2n ** 65n }), fc.bigInt({ min: 0n, max: 2n ** 65n }))
    .map(([ms, seq]) => `${ms}-${seq}`),
  fc.constantFrom('0-0', 'abc', '1', '-1-0', '0:1-0', '999:1-0'),
);

interface Call {
  readonly service: 'ingest' | 'query' | 'worker';
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
}

const ingestCall = fc.oneof(
  event.map((one): Call => ({
    service: 'ingest',
    method: 'POST',
    path: '/api/ingest/events',
    body: JSON.stringify(one),
  })),
  fc.array(event, { maxLength: 20 }).map((many): Call => ({
    service: 'ingest',
    method: 'POST',
    path: '/api/ingest/events',
    body: JSON.stringify(many),
  })),
  fc.array(event, { maxLength: 20 }).map((many): Call => ({
    service: 'ingest',
    method: 'POST',
    path: '/api/ingest/events',
    body: many.map((one) => JSON.stringify(one)).join('\n'),
    contentType: 'application/x-ndjson',
  })),
  fc.string().map((text): Call => ({ service: 'ingest', method: 'POST', path: '/api/ingest/events', body: text })),
);
const queryCall = fc.oneof(
  fc
    .tuple(
      name,
      name,
      fc.oneof(fc.integer().map(String), fc.string()),
      fc.constantFrom('avg', 'sum', 'max', 'median', ''),
      fc.constantFrom('1m', '0', '1', '1e3', 'x'),
    )
    .map(([metric, source, from, agg, bucket]): Call => ({
      service: 'query',
      method: 'GET',
      path: `/api/ingest/series/${encodeURIComponent(metric)}/${encodeURIComponent(source)}/range?from=${encodeURIComponent(from)}&agg=${agg}&bucket=${bucket}`,
    })),
  streamId.map((cursor): Call => ({
    service: 'query',
    method: 'GET',
    path: `/api/ingest/dead-letters?cursor=${encodeURIComponent(cursor)}`,
  })),
  fc.tuple(fc.constantFrom('replay', 'delete'), fc.array(streamId, { maxLength: 3 })).map(([action, ids]): Call => ({
    service: 'query',
    method: 'POST',
    path: `/api/ingest/dead-letters/${action}`,
    body: JSON.stringify({ ids }),
  })),
  fc.tuple(name, fc.string()).map(([metric, query]): Call => ({
    service: 'query',
    method: 'GET',
    path: `/api/ingest/metrics/${encodeURIComponent(metric)}/range?${query}`,
  })),
);
const workerCall = fc.oneof(
  fc.record({ consumer: name, count: fc.oneof(fc.integer(), fc.string()) }, { requiredKeys: [] }).map((body): Call => ({
    service: 'worker',
    method: 'POST',
    path: '/api/ingest/workers/process',
    body: JSON.stringify(body),
  })),
  fc
    .string()
    .map((text): Call => ({ service: 'worker', method: 'POST', path: '/api/ingest/workers/process', body: text })),
);

/** Longest a request may go unanswered before it counts as dropped. */
const ANSWER_WITHIN_MS = 10_000;

/**
 * A malformed request sent on a keep-alive connection after a good one, as raw bytes: an unknown
 * method, a header name with a space, a head over the size limit, or a bad chunk size after
 * `Expect: 100-continue`. Each must get its JSON 4xx on that connection, as on a fresh one.
 */
const malformed = fc.oneof(
  fc.stringMatching(/^[A-Z]{3,8}$/).map((method) => `${method}X@ /healthz HTTP/1.1\r\nHost: t\r\n\r\n`),
  fc.stringMatching(/^[a-z]{1,8} [a-z]{1,8}$/).map((name) => `GET /healthz HTTP/1.1\r\nHost: t\r\n${name}: 1\r\n\r\n`),
  fc
    .integer({ min: 70_000, max: 200_000 })
    .map((size) => `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`),
  fc
    .stringMatching(/^[g-z]{1,4}$/)
    .map(
      (chunkSize) =>
        'POST /api/ingest/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
        `Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n${chunkSize}\r\n{}\r\n0\r\n\r\n`,
    ),
);

/** Sends GET /healthz, then, once it is answered, `second` on the same connection; everything the service wrote until it closed. */
function afterGoodRequest(port: number, second: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = false;
    socket.setTimeout(ANSWER_WITHIN_MS, () => socket.destroy(new Error('no answer in time')));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (!sent && /\r\n\r\n\{[^]*\}$/.test(received)) {
        sent = true;
        socket.write(second);
      }
    });
    // A reset after the second request still leaves what arrived before it to judge.
    socket.on('error', (error) => (sent ? resolve(received) : reject(error)));
    socket.on('close', () => resolve(received));
    socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
  });
}

describe('generated hostile input to the three services', () => {
  let server: RedisServer;
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    for (const one of processes) await killHard(one);
    await server?.stop();
  });

  it(`answers every request with a 2xx, a JSON 4xx or a 503, exits never, keeps its keys to their names, and stores every accepted event (seed ${seed})`, async () => {
    server = await startRedisServer();
    const env = pipelineEnv(server.url, {
      INGEST_ROLLUP_BACKEND: 'native',
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_MAX_DELIVERIES: '1',
    });
    const ingest = spawnService(INGEST_MAIN, env, 'ingest-api listening');
    const query = spawnService(QUERY_MAIN, env, 'query-api listening');
    const worker = spawnWorker(env, 'generative');
    processes.push(ingest, query, worker);
    const portOf = async ({ started }: ServiceProcess, field: string) => (await started)[field] as number;
    const ports = {
      ingest: await portOf(ingest, 'port'),
      query: await portOf(query, 'port'),
      worker: await portOf(worker, 'adminPort'),
    };
    let accepted = 0;

    await fc.assert(
      fc.asyncProperty(fc.oneof(ingestCall, queryCall, workerCall), async (call) => {
        let response: Response;
        try {
          response = await fetch(`http://127.0.0.1:${ports[call.service]}${call.path}`, {
            method: call.method,
            signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
            ...(call.body === undefined
              ? {}
              : { body: call.body, headers: { 'content-type': call.contentType ?? 'application/json' } }),
          });
        } catch (error) {
          throw new Error(`${call.service} left ${call.method} ${call.path} unanswered`, { cause: error });
        }
        const text = await response.text();
        expect(response.status === 503 || response.status < 500).toBe(true);
        if (response.status >= 400) expect(typeof (JSON.parse(text) as { error?: unknown }).error).toBe('string');
        if (call.service === 'ingest' && response.status === 202) {
          const body = JSON.parse(text) as { accepted?: number; id?: string };
          accepted += body.accepted ?? (body.id === undefined ? 0 : 1);
        }
      }),
      { seed, numRuns },
    );

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('ingest' as const, 'query' as const, 'worker' as const),
        malformed,
        async (service, second) => {
          const received = await afterGoodRequest(ports[service], second);
          const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
          expect(statuses[0]).toBe(200);
          const last = statuses.at(-1)!;
          expect(statuses.length).toBeGreaterThan(1);
          expect(last >= 400 && last < 500).toBe(true);
          expect(
            typeof (JSON.parse(received.slice(received.lastIndexOf('\r\n\r\n') + 4)) as { error?: unknown }).error,
          ).toBe('string');
        },
      ),
      { seed, numRuns: Math.ceil(numRuns / 20) },
    );

    expect(accepted).toBeGreaterThan(0);
    const config = loadIngestConfig(env);
    const redis = createClient({ url: server.url, RESP: 2 });
    await redis.connect();
    try {
      // Every accepted event is processed: stored, or dead-lettered with a reason.
      await eventually(
        async () => {
          const groups = await redis.xInfoGroups(config.keys.streamKey).catch(() => []);
          const group = groups.find(({ name: group }) => group === config.consumerGroup);
          return accepted === 0 || (group !== undefined && group.pending === 0 && group.lag === 0);
        },
        30_000,
        'every accepted event processed',
      );
      const deadLetters = await redis.xRange(config.keys.deadLetterKey, '-', '+');
      expect(deadLetters.every(({ message }) => typeof message.reason === 'string' && message.reason.length > 0)).toBe(
        true,
      );
      const deadLettered = new Set(deadLetters.map(({ message }) => message.messageId));
      const storeClient = createRedisClient(server.url, {
        name: 'generative-check',
        logger: { warn: () => undefined },
      });
      await storeClient.connect();
      let stored = 0;
      try {
        const store = await createRollupStore(storeClient, config);
        const entries = await redis.xRange(config.keys.streamKey, '-', '+');
        for (const { id, message } of entries.filter((entry) => !deadLettered.has(entry.id))) {
          const decoded = decodeEntry(eventFields(message));
          if (!decoded.ok)
            throw new Error(`entry ${id} was accepted but does not decode: ${JSON.stringify(decoded.errors)}`);
          const { source, metric } = decoded.event;
          const points = await store.range(
            { source, metric },
            { fromMs: decoded.timestampMs, toMs: decoded.timestampMs, limit: 10 },
          );
          expect(points.length).toBe(1);
          stored++;
        }
      } finally {
        storeClient.destroy();
      }
      expect(stored).toBeGreaterThan(0);
      // No key outside the configured names (the isolated environment's prefix).
      const prefix = config.keys.streamKey.replace(/:events$/, '');
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ COUNT: 1_000 })) keys.push(...batch);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => !key.startsWith(`${prefix}:`))).toEqual([]);
      for (const one of processes)
        expect({ exitCode: one.child.exitCode, signal: one.child.signalCode }).toEqual({
          exitCode: null,
          signal: null,
        });
    } finally {
      redis.destroy();
    }
  }, 180_000);
});
