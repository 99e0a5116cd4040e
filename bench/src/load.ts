import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { summarizeLatencies, type LatencySummary } from './stats';

export const INGEST_PATH = '/api/ingest/events';

export function ingestPool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
}

export interface PostOutcome {
  readonly status: number;
  /** Events the ingest appended: a batch reply counts them, a single event is one when it was taken. */
  readonly accepted: number;
}

export async function postEvents(pool: Pool, body: string): Promise<PostOutcome> {
  const response = await pool.request({
    path: INGEST_PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.body.text();
  const status = response.statusCode;
  if (status !== 200 && status !== 202) return { status, accepted: 0 };
  const reply = JSON.parse(text) as { accepted?: number };
  return { status, accepted: reply.accepted ?? 1 };
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly latency: LatencySummary;
  readonly requests: number;
  /** 400s: requests holding only invalid events, which the simulator sends on purpose. */
  readonly refusedRequests: number;
  /** Any other non-2xx answer, e.g. 503 from backpressure: a broken run. */
  readonly failedRequests: number;
  /** Cores the simulator itself kept busy: on a small box it competes with the services it drives. */
  readonly clientCpuCores: number;
}

export interface ClosedLoopOptions {
  readonly origin: string;
  /** Keep-alive connections, each with one request in flight at all times. */
  readonly connections: number;
  readonly durationMs: number;
  /** Requests finishing before this point are neither counted nor timed. */
  readonly warmupMs: number;
  readonly bodies: readonly string[];
  /** How a body is sent and its answer counted; JSON events to the ingest route unless given. */
  readonly post?: (pool: Pool, body: string) => Promise<PostOutcome>;
}

/**
 * Peak throughput: every connection sends its next request as soon as the last one is answered.
 * Latency is per request (send to full reply) at that peak, so it includes any queueing inside the
 * services; throughput counts requests that finished inside the measured window.
 */
export async function runClosedLoop({
  origin,
  connections,
  durationMs,
  warmupMs,
  bodies,
  post = postEvents,
}: ClosedLoopOptions): Promise<LoadResult> {
  const pool = ingestPool(origin, connections);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const measureFrom = startedAt + warmupMs;
  const measureUntil = startedAt + durationMs;
  const latencies: number[] = [];
  let events = 0;
  let refused = 0;
  let failed = 0;
  let next = 0;
  const connectionLoop = async () => {
    while (performance.now() < measureUntil) {
      const body = bodies[next++ % bodies.length]!;
      const sentAt = performance.now();
      const outcome = await post(pool, body);
      const answeredAt = performance.now();
      if (answeredAt < measureFrom || answeredAt > measureUntil) continue;
      latencies.push(answeredAt - sentAt);
      events += outcome.accepted;
      // A 400 that appended events (a partial line-protocol write) counts its events, not as a refusal.
      if (outcome.accepted === 0) {
        if (outcome.status === 400) refused += 1;
        else failed += 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, connectionLoop));
  } finally {
    await pool.close();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const clientCpuCores = (cpu.user + cpu.system) / 1_000 / (performance.now() - startedAt);
  if (latencies.length === 0) throw new Error(`no request to ${origin} finished inside the measured window`);
  const seconds = (measureUntil - measureFrom) / 1_000;
  return {
    requestsPerSecond: latencies.length / seconds,
    eventsPerSecond: events / seconds,
    latency: summarizeLatencies(latencies),
    requests: latencies.length,
    refusedRequests: refused,
    failedRequests: failed,
    clientCpuCores,
  };
}
