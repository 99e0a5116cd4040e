import { performance } from 'node:perf_hooks';
import { IngestClient } from '@redis-ingest/client';
import { ingestPool, postEvents } from './load';
import { deviceReading, toEvent } from './workload';

export interface ClientPhaseOptions {
  /** The ingest-api's origin, e.g. http://127.0.0.1:8080. */
  readonly origin: string;
  /** Events each side sends; both send the same readings. */
  readonly events: number;
  readonly batchSize: number;
  /** Requests in flight: pool connections for the raw side, the client's `concurrency`. */
  readonly connections: number;
  readonly devices: number;
}

export interface ClientPhaseSide {
  readonly eventsPerSecond: number;
  readonly requests: number;
  /** Requests that were not 2xx: the raw side counts them, the client retries them. */
  readonly failedRequests: number;
}

export interface ClientPhaseResult {
  readonly raw: ClientPhaseSide;
  readonly client: ClientPhaseSide & { readonly retried: number; readonly bytesSent: number };
  /** client / raw events per second. */
  readonly ratio: number;
}

/**
 * The same readings posted twice, each with an eventId so the ingest-api does the same work for both:
 * once as prebuilt JSON batches over a keep-alive pool (the ceiling a hand-written sender reaches), once
 * through IngestClient (eventIds, NDJSON framing, gzip when it pays, retries), timed until close() has
 * every event accepted.
 */
export async function runClientPhase({
  origin,
  events,
  batchSize,
  connections,
  devices,
}: ClientPhaseOptions): Promise<ClientPhaseResult> {
  const baseMs = Date.now() - events * 1_000;
  const reading = (index: number, side: string) => ({
    ...toEvent(deviceReading(index, devices, baseMs)),
    eventId: `bench-${side}-${baseMs}-${index}`,
  });

  const bodies = Array.from({ length: Math.ceil(events / batchSize) }, (_, body) =>
    JSON.stringify(
      Array.from({ length: Math.min(batchSize, events - body * batchSize) }, (_, i) =>
        reading(body * batchSize + i, 'raw'),
      ),
    ),
  );
  const pool = ingestPool(origin, connections);
  let next = 0;
  let failedRequests = 0;
  const rawStart = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let body = next++; body < bodies.length; body = next++) {
        if ((await postEvents(pool, bodies[body]!)).accepted === 0) failedRequests++;
      }
    }),
  );
  const rawSeconds = (performance.now() - rawStart) / 1000;
  await pool.close();

  const client = new IngestClient({
    url: origin,
    maxBatchEvents: batchSize,
    concurrency: connections,
    flushIntervalMs: 5,
  });
  let clientFailures = 0;
  client.on('error', () => clientFailures++);
  const clientStart = performance.now();
  await client.sendAll(
    (function* () {
      for (let index = 0; index < events; index++) yield reading(index, 'client');
    })(),
  );
  await client.close();
  const clientSeconds = (performance.now() - clientStart) / 1000;
  const metrics = client.metrics();

  const raw = { eventsPerSecond: events / rawSeconds, requests: bodies.length, failedRequests };
  return {
    raw,
    client: {
      eventsPerSecond: metrics.accepted / clientSeconds,
      requests: metrics.requests,
      failedRequests: clientFailures,
      retried: metrics.retried,
      bytesSent: metrics.bytesSent,
    },
    ratio: metrics.accepted / clientSeconds / raw.eventsPerSecond,
  };
}
