import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RollupStore, SeriesId } from '@redis-ingest/redis-schema';
import { ingestPool, postEvents } from './load';
import { summarizeLatencies, type LatencySummary } from './stats';

const TRACER_METRIC = 'bench-tracer';
const TRACER_SERIES = 16;
const POLL_MS = 5;

export interface EndToEndOptions {
  readonly origin: string;
  readonly store: RollupStore;
  /** Events per second to send, tracers included. */
  readonly eventsPerSecond: number;
  /** The next open batch body (see freshOpenBodies) of batchSize - 1 events, which the request closes with its tracer. */
  readonly openBody: () => string;
  readonly batchSize: number;
  readonly connections: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** How long to keep looking for tracers once sending has stopped. */
  readonly settleMs: number;
  readonly tracerBaseMs: number;
  /** The group's lag plus pending, read when sending stops: above a batch or two, the workers fell behind. */
  readonly backlog: () => Promise<number>;
}

/** One tracer: when its batch was due (epoch ms) and how long it took to show in its series. */
export interface TracerLatency {
  readonly dueAtMs: number;
  readonly latencyMs: number;
}

export interface EndToEndResult {
  readonly eventsPerSecond: number;
  readonly latency: LatencySummary;
  readonly tracerLatencies: readonly TracerLatency[];
  /** Epoch ms from which tracers count: the end of the warm-up. */
  readonly measuredFromMs: number;
  readonly tracers: number;
  /** Tracers not seen by the end; their latency counts as the time waited, a lower bound. */
  readonly lostTracers: number;
  readonly failedRequests: number;
  readonly backlogWhenSendingStopped: number;
}

interface Tracer {
  readonly series: SeriesId;
  readonly timestampMs: number;
  readonly value: number;
  readonly dueAt: number;
}

/**
 * Latency from POST to visibility in the raw series, at a fixed rate with the workers running.
 * Batches go out on a fixed schedule whatever the answers (open loop), each closed by one tracer
 * event: a series of its own, a timestamp no other tracer of that series has, its sequence number as
 * value, and last in its batch so it is the batch's slowest event to store. A poller reads every
 * outstanding tracer through `store.range` every 5 ms; a tracer's latency runs from the moment its
 * batch was due (not when the client got round to sending it, so a stall anywhere is counted) to
 * the answer of the first read that found it: at most one poll too high, never too low.
 */
export async function measureEndToEnd(options: EndToEndOptions): Promise<EndToEndResult> {
  const { store, batchSize } = options;
  const epochOffsetMs = Date.now() - performance.now();
  const pool = ingestPool(options.origin, options.connections);
  const intervalMs = (batchSize / options.eventsPerSecond) * 1_000;
  const startedAt = performance.now();
  const measureFrom = startedAt + options.warmupMs;
  const sendUntil = startedAt + options.durationMs;
  const outstanding = new Map<number, Tracer>();
  const latencies: TracerLatency[] = [];
  const recordLatency = (tracer: Tracer, answeredAt: number) =>
    latencies.push({ dueAtMs: tracer.dueAt + epochOffsetMs, latencyMs: answeredAt - tracer.dueAt });
  const requests: Promise<void>[] = [];
  let accepted = 0;
  let failed = 0;
  let sending = true;
  let backlogWhenSendingStopped = 0;

  const send = (sequence: number) => {
    const dueAt = startedAt + sequence * intervalMs;
    const tracer: Tracer = {
      series: { metric: TRACER_METRIC, source: `tracer-${sequence % TRACER_SERIES}` },
      timestampMs: options.tracerBaseMs + sequence,
      value: sequence,
      dueAt,
    };
    if (dueAt >= measureFrom) outstanding.set(sequence, tracer);
    const tracerJson = JSON.stringify({
      ...tracer.series,
      value: tracer.value,
      occurredAt: new Date(tracer.timestampMs).toISOString(),
    });
    const body = `${options.openBody()},${tracerJson}]`;
    const request = postEvents(pool, body).then(
      (outcome) => {
        if (dueAt >= measureFrom) accepted += outcome.accepted;
        if (outcome.accepted === 0) failed += 1;
      },
      () => {
        failed += 1;
      },
    );
    requests.push(request);
  };

  const schedule = async () => {
    let sent = 0;
    while (performance.now() < sendUntil) {
      const due = Math.floor((performance.now() - startedAt) / intervalMs) + 1;
      while (sent < due) send(sent++);
      await sleep(Math.max(0, startedAt + sent * intervalMs - performance.now()));
    }
    sending = false;
    backlogWhenSendingStopped = await options.backlog();
  };

  const poll = async () => {
    const giveUpAt = sendUntil + options.settleMs;
    while ((sending || outstanding.size > 0) && performance.now() < giveUpAt) {
      const checking = [...outstanding.entries()].filter(([, tracer]) => tracer.dueAt <= performance.now());
      const found = await Promise.all(
        checking.map(([, tracer]) =>
          store.range(tracer.series, { fromMs: tracer.timestampMs, toMs: tracer.timestampMs, limit: 1 }),
        ),
      );
      const answeredAt = performance.now();
      checking.forEach(([sequence, tracer], i) => {
        if (found[i]![0]?.value !== tracer.value) return;
        recordLatency(tracer, answeredAt);
        outstanding.delete(sequence);
      });
      await sleep(POLL_MS);
    }
  };

  try {
    await Promise.all([schedule(), poll()]);
    await Promise.all(requests);
  } finally {
    await pool.close();
  }
  const lostTracers = outstanding.size;
  const gaveUpAt = performance.now();
  for (const tracer of outstanding.values()) recordLatency(tracer, gaveUpAt);
  if (latencies.length === 0) throw new Error('no tracer was sent inside the measured window');
  return {
    eventsPerSecond: accepted / ((sendUntil - measureFrom) / 1_000),
    latency: summarizeLatencies(latencies.map(({ latencyMs }) => latencyMs)),
    tracerLatencies: latencies,
    measuredFromMs: measureFrom + epochOffsetMs,
    tracers: latencies.length,
    lostTracers,
    failedRequests: failed,
    backlogWhenSendingStopped,
  };
}
