import {
  CLUSTER_PRIMARIES,
  COMPARED_PARTITIONS,
  PROJECTION_FORMULA,
  type ProjectionRow,
  type TopologyComparison,
  type WorkloadCounts,
} from './shards';
import type { CommandCost } from './command-stats';
import type { LatencySummary } from './stats';

export interface RateFigures {
  readonly requestsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface IngestFigures extends RateFigures {
  /** CPU of the ingest-api's processes over the events the phase appended. */
  readonly nodeMicrosPerEvent: number;
}

export interface SustainedFigures {
  /** The highest rate found to keep the backlog under one second's worth of events. */
  readonly eventsPerSecond: number;
  readonly ratioToXaddCeiling: number;
  readonly workers: number;
  readonly atEightyPercent: { readonly eventsPerSecond: number; readonly p50Ms: number; readonly p99Ms: number };
  /** At 80% of the sustained rate, per million events appended. */
  readonly cpuSecondsPerMillionEvents: {
    readonly redis: number;
    /** The ingest-api's primary first, then each process it forked. */
    readonly ingestApiProcesses: readonly number[];
    readonly workers: readonly number[];
  };
  /** At 80% of the sustained rate, the commands Redis spent most time on, costliest first. */
  readonly redisByCommand: readonly CommandCost[];
  readonly trials: readonly { readonly eventsPerSecond: number; readonly held: boolean; readonly maxBacklog: number }[];
}

export interface BoundaryFigures {
  readonly eventsPerSecond: number;
  readonly bucketMs: number;
  readonly series: number;
  readonly boundaryP99Ms: number;
  readonly otherP99Ms: number;
  readonly boundaryWindows: number;
  readonly otherWindows: number;
  /** boundaryP99Ms / otherP99Ms. */
  readonly ratio: number;
  readonly slowScriptCalls: number | null;
  readonly slowestScriptCallMs: number | null;
  readonly slowOtherCalls: number | null;
  readonly slowestOtherCallMs: number | null;
}

export interface Figures {
  readonly ceiling: { readonly xaddPerSecond: number; readonly nativeRawSamplesPerSecond: number };
  /** Events per batch request in the batch phases. */
  readonly batchSize: number;
  /** Keyed by the ingest-api's process count. */
  readonly ingest: Record<
    string,
    { readonly singleEvents: IngestFigures; readonly batches: IngestFigures; readonly lineProtocol: IngestFigures }
  >;
  readonly drain: {
    readonly oneWorkerEventsPerSecond: number;
    readonly twoWorkersEventsPerSecond: number;
    /** The one worker's CPU, and Redis', over the events it drained. */
    readonly oneWorkerNodeMicrosPerEvent: number;
    readonly oneWorkerRedisMicrosPerEvent: number;
  };
  readonly sustained: SustainedFigures;
  readonly boundary: BoundaryFigures;
  /** The same readings posted raw and through @redis-ingest/client. */
  readonly client: {
    readonly rawEventsPerSecond: number;
    readonly clientEventsPerSecond: number;
    readonly retried: number;
  };
  /** At a fraction of the peak batch ingest rate, as the targets state it. */
  readonly endToEnd: EndToEndFigures;
  /** At the same fraction of what the pipeline sustains: the lower of peak batch ingest and the end-to-end workers' drain. */
  readonly endToEndSustained: EndToEndFigures;
  readonly memory: {
    readonly redisBytesPerMillionEvents: number;
    readonly peakRssMb: { readonly ingestApiProcess: number; readonly worker: number; readonly redis: number };
  };
  /** One node against a cluster, when the run compared them. */
  readonly topology?: TopologyComparison;
}

export interface EndToEndFigures {
  readonly targetEventsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface EndToEndCounts {
  readonly tracers: number;
  readonly lostTracers: number;
  readonly failedRequests: number;
  readonly backlogWhenSendingStopped: number;
}

export interface RequestCounts {
  readonly requests: number;
  readonly refusedRequests: number;
  readonly failedRequests: number;
  readonly clientCpuCores: number;
}

export type TopologyCounts = Partial<
  Record<
    keyof TopologyComparison,
    {
      readonly batchIngest: WorkloadCounts & { readonly requests: RequestCounts };
      readonly drainOneWorker: WorkloadCounts;
      readonly drainTwoWorkers: WorkloadCounts;
    }
  >
>;

/** What the figures rest on; the cautions below say when they rest on too little. */
export interface Counts {
  readonly ingest: Record<
    string,
    { readonly singleEvents: RequestCounts; readonly batches: RequestCounts; readonly lineProtocol: RequestCounts }
  >;
  readonly drainedEvents: { readonly oneWorker: number; readonly twoWorkers: number };
  readonly endToEnd: EndToEndCounts;
  readonly endToEndSustained: EndToEndCounts;
  readonly sustainedAtEightyPercent: EndToEndCounts;
  readonly topology?: TopologyCounts;
}

export interface TargetResult {
  readonly target: string;
  readonly actual: number;
  readonly pass: boolean;
}

export function rateFigures(requestsPerSecond: number, eventsPerSecond: number, latency: LatencySummary): RateFigures {
  return { requestsPerSecond, eventsPerSecond, p50Ms: latency.p50Ms, p99Ms: latency.p99Ms };
}

/** Every figure next to the ceiling it is bounded by, measured in the same run on the same server. */
export function ratiosToCeilings(figures: Figures, processes: number) {
  const ingest = figures.ingest[String(processes)]!;
  const { xaddPerSecond, nativeRawSamplesPerSecond } = figures.ceiling;
  return {
    batchIngestToXaddCeiling: ingest.batches.eventsPerSecond / xaddPerSecond,
    lineProtocolToJsonBatchIngest: ingest.lineProtocol.eventsPerSecond / ingest.batches.eventsPerSecond,
    singleEventIngestToXaddCeiling: ingest.singleEvents.eventsPerSecond / xaddPerSecond,
    nativeRawWriteToXaddCeiling: nativeRawSamplesPerSecond / xaddPerSecond,
    oneWorkerDrainToNativeRawWrite: figures.drain.oneWorkerEventsPerSecond / nativeRawSamplesPerSecond,
    twoWorkersDrainToNativeRawWrite: figures.drain.twoWorkersEventsPerSecond / nativeRawSamplesPerSecond,
    endToEndRateToPeakBatchIngest: figures.endToEnd.eventsPerSecond / ingest.batches.eventsPerSecond,
    sustainedToXaddCeiling: figures.sustained.ratioToXaddCeiling,
    oneWorkerDrainToXaddCeiling: figures.drain.oneWorkerEventsPerSecond / xaddPerSecond,
    twoWorkersToOneWorkerDrain: figures.drain.twoWorkersEventsPerSecond / figures.drain.oneWorkerEventsPerSecond,
    boundaryToOtherWindowsP99: figures.boundary.ratio,
    clientToRawPosts: figures.client.clientEventsPerSecond / figures.client.rawEventsPerSecond,
  };
}

export type Ratios = ReturnType<typeof ratiosToCeilings>;

export function evaluateTargets(figures: Figures, ratios: Ratios, processes: number): TargetResult[] {
  const ingest = figures.ingest[String(processes)]!;
  const atLeast = (target: string, actual: number, threshold: number) => ({
    target,
    actual,
    pass: actual >= threshold,
  });
  const below = (target: string, actual: number, threshold: number) => ({ target, actual, pass: actual < threshold });
  const atMost = (target: string, actual: number, threshold: number) => ({ target, actual, pass: actual <= threshold });
  const above = (target: string, actual: number, threshold: number) => ({ target, actual, pass: actual > threshold });
  const { sustained, boundary, drain } = figures;
  return [
    atLeast('sustained end-to-end rate >= 0.2 of the XADD ceiling', ratios.sustainedToXaddCeiling, 0.2),
    below('end-to-end p99 < 100 ms at 80% of the sustained rate', sustained.atEightyPercent.p99Ms, 100),
    atLeast('one worker drain >= 0.2 of the XADD ceiling', ratios.oneWorkerDrainToXaddCeiling, 0.2),
    above('two workers drain faster than one', ratios.twoWorkersToOneWorkerDrain, 1),
    atMost('worker Node CPU <= 3 µs per event', drain.oneWorkerNodeMicrosPerEvent, 3),
    atMost(
      `ingest-api Node CPU <= 3 µs per event in batches of ${figures.batchSize}`,
      ingest.batches.nodeMicrosPerEvent,
      3,
    ),
    atLeast('batch ingest >= 0.5 of the XADD ceiling', ratios.batchIngestToXaddCeiling, 0.5),
    atLeast('line-protocol ingest >= the JSON batch rate', ratios.lineProtocolToJsonBatchIngest, 1),
    atLeast('single-event POSTs >= 10,000 req/s', ingest.singleEvents.requestsPerSecond, 10_000),
    below('single-event POST p99 < 20 ms', ingest.singleEvents.p99Ms, 20),
    atMost('p99 in bucket-boundary windows <= 2x the others', boundary.ratio, 2),
    atMost('slowest script call in the boundary phase <= 5 ms', boundary.slowestScriptCallMs ?? Number.NaN, 5),
  ];
}

const whole = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 0 });
const fixed = (digits: number) => (value: number) => value.toFixed(digits);

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n');
}

export function formatReport(
  figures: Figures,
  ratios: Ratios,
  targets: readonly TargetResult[],
  processes: number,
): string {
  const rows: string[][] = [['figure', 'value', 'unit']];
  const add = (label: string, value: string, unit: string) => rows.push([label, value, unit]);
  const pair = (first: number, second: number, format: (value: number) => string) =>
    `${format(first)} / ${format(second)}`;
  const { ceiling, drain, endToEnd, endToEndSustained, memory } = figures;
  add('Redis XADD ceiling (redis-benchmark -P 64)', whole(ceiling.xaddPerSecond), 'XADD/s');
  add('native store raw write (addSamples x1000)', whole(ceiling.nativeRawSamplesPerSecond), 'samples/s');
  for (const [count, { singleEvents, batches, lineProtocol }] of Object.entries(figures.ingest)) {
    const label = `ingest, ${count} process${count === '1' ? '' : 'es'}`;
    add(`${label}: single events`, whole(singleEvents.requestsPerSecond), 'req/s');
    add(`${label}: single events p50 / p99`, pair(singleEvents.p50Ms, singleEvents.p99Ms, fixed(2)), 'ms');
    add(`${label}: batches`, whole(batches.eventsPerSecond), 'events/s');
    add(`${label}: batches`, fixed(1)(batches.requestsPerSecond), 'req/s');
    add(`${label}: batch p50 / p99`, pair(batches.p50Ms, batches.p99Ms, fixed(1)), 'ms');
    add(`${label}: line protocol`, whole(lineProtocol.eventsPerSecond), 'events/s');
    add(`${label}: line protocol p50 / p99`, pair(lineProtocol.p50Ms, lineProtocol.p99Ms, fixed(1)), 'ms');
    add(
      `${label}: Node CPU per single event / per batched event / per line-protocol event`,
      [singleEvents, batches, lineProtocol].map(({ nodeMicrosPerEvent }) => fixed(2)(nodeMicrosPerEvent)).join(' / '),
      'µs',
    );
  }
  add('worker drain, one worker', whole(drain.oneWorkerEventsPerSecond), 'events/s');
  add('worker drain, two workers', whole(drain.twoWorkersEventsPerSecond), 'events/s');
  add(
    'worker drain, one worker: Node / Redis CPU per event',
    pair(drain.oneWorkerNodeMicrosPerEvent, drain.oneWorkerRedisMicrosPerEvent, fixed(2)),
    'µs',
  );
  add(
    'raw batch POSTs / the same through IngestClient',
    pair(figures.client.rawEventsPerSecond, figures.client.clientEventsPerSecond, whole),
    'events/s',
  );
  const { sustained, boundary } = figures;
  add(
    `sustained rate, ${sustained.workers} workers (backlog < 1 s of events)`,
    whole(sustained.eventsPerSecond),
    'events/s',
  );
  add('  at 80% of it: achieved', whole(sustained.atEightyPercent.eventsPerSecond), 'events/s');
  add(
    '  at 80% of it: end-to-end p50 / p99',
    pair(sustained.atEightyPercent.p50Ms, sustained.atEightyPercent.p99Ms, fixed(1)),
    'ms',
  );
  const cpu = sustained.cpuSecondsPerMillionEvents;
  add('  at 80% of it: CPU s per million events, redis-server', fixed(2)(cpu.redis), 's');
  add(
    '  at 80% of it: CPU s per million events, ingest-api processes',
    cpu.ingestApiProcesses.map(fixed(2)).join(' / '),
    's',
  );
  add('  at 80% of it: CPU s per million events, workers', cpu.workers.map(fixed(2)).join(' / '), 's');
  for (const { command, microsPerEvent, callsPerEvent } of sustained.redisByCommand)
    add(
      `  at 80% of it: Redis time per event in ${command} (calls per event)`,
      `${fixed(2)(microsPerEvent)} (${fixed(3)(callsPerEvent)})`,
      'µs',
    );
  add(
    `bucket boundaries (${whole(boundary.series)} series, ${boundary.bucketMs / 1_000} s buckets)`,
    whole(boundary.eventsPerSecond),
    'events/s',
  );
  add(
    '  p99 in boundary windows (worst) / others (median)',
    pair(boundary.boundaryP99Ms, boundary.otherP99Ms, fixed(1)),
    'ms',
  );
  const slowCalls = (count: number | null, slowestMs: number | null) =>
    count === null ? 'n/a' : `${count} / ${fixed(1)(slowestMs ?? 0)}`;
  add(
    '  script calls over 5 ms / slowest',
    slowCalls(boundary.slowScriptCalls, boundary.slowestScriptCallMs),
    'calls / ms',
  );
  add(
    '  other commands over 5 ms / slowest (Redis off the CPU)',
    slowCalls(boundary.slowOtherCalls, boundary.slowestOtherCallMs),
    'calls / ms',
  );
  for (const [label, measured] of [
    ['of peak ingest', endToEnd],
    ['of drain rate', endToEndSustained],
  ] as const) {
    add(
      `end-to-end at a share ${label}, target / achieved`,
      pair(measured.targetEventsPerSecond, measured.eventsPerSecond, whole),
      'events/s',
    );
    add(`end-to-end at a share ${label}, p50 / p99`, pair(measured.p50Ms, measured.p99Ms, fixed(1)), 'ms');
  }
  add('Redis memory per million stream entries', fixed(1)(memory.redisBytesPerMillionEvents / 1_048_576), 'MiB');
  add('peak RSS: one ingest-api process', fixed(1)(memory.peakRssMb.ingestApiProcess), 'MiB');
  add('peak RSS: one worker', fixed(1)(memory.peakRssMb.worker), 'MiB');
  add('peak RSS: redis-server', fixed(1)(memory.peakRssMb.redis), 'MiB');
  for (const [name, ratio] of Object.entries(ratios)) add(`ratio ${name}`, fixed(3)(ratio), '');

  const targetRows = [
    ['target', 'actual', 'result'],
    ...targets.map(({ target, actual, pass }) => [
      target,
      actual < 10 ? fixed(3)(actual) : whole(actual),
      pass ? 'pass' : 'FAIL',
    ]),
  ];
  return `${table(rows)}\n\ntargets (ingest-api with ${processes} process${processes === 1 ? '' : 'es'}):\n${table(targetRows)}`;
}

const WORKLOADS = [
  ['batchIngest', 'batch ingest'],
  ['drainOneWorker', 'drain, one worker'],
  ['drainTwoWorkers', 'drain, two workers'],
] as const;

/** The comparison of one node with a cluster, what it cannot show on this box, and the projection from its costs. */
export function formatTopologyComparison(
  comparison: TopologyComparison,
  ratios: Readonly<Record<string, number>>,
  projection: readonly ProjectionRow[],
  cores: number,
): string {
  const rows = [['workload', 'topology', 'events/s', 'Redis CPU µs/event', 'per shard', 'service CPU µs/event']];
  for (const [workload, label] of WORKLOADS) {
    for (const [topology, figures] of Object.entries(comparison)) {
      const measured = figures[workload];
      rows.push([
        label,
        `${topology} (${figures.shards} shard${figures.shards === 1 ? '' : 's'})`,
        whole(measured.eventsPerSecond),
        fixed(2)(measured.redisCpuMicrosPerEvent),
        measured.shardCpuMicrosPerEvent.map(fixed(2)).join(' / '),
        fixed(2)(measured.serviceCpuMicrosPerEvent),
      ]);
    }
  }
  const ratioLines = Object.entries(ratios)
    .filter(([name]) => name.startsWith('clusterToSingle'))
    .map(([name, ratio]) => `ratio ${name}: ${fixed(3)(ratio)}`);
  const projectionRows = [
    [
      'shards',
      'c from',
      'Redis-bound ingest',
      'projected batch ingest',
      'Redis-bound drain',
      'projected drain, 2 workers',
      'workers for Redis-bound drain',
    ],
    ...projection.map((row) => [
      String(row.shards),
      row.costFrom,
      whole(row.batchIngestRedisBound),
      whole(row.batchIngestEventsPerSecond),
      whole(row.drainRedisBound),
      whole(row.drainTwoWorkersEventsPerSecond),
      String(row.drainWorkersForRedisBound),
    ]),
  ];
  return [
    `topology comparison (INGEST_STREAM_PARTITIONS=${COMPARED_PARTITIONS}, cluster of ${CLUSTER_PRIMARIES} primaries without replicas; ` +
      'Redis CPU is INFO cpu used_cpu_sys + used_cpu_user of each node before and after the phase, over the events of the partitions it holds):',
    table(rows),
    ...ratioLines,
    '',
    `note: this box has ${cores} cores. The cluster's ${CLUSTER_PRIMARIES} redis-server processes, the services and the load generator ` +
      'all share them, so the cluster cannot show a real speed-up here: its events/s above measure contention, not sharding. ' +
      'What carries over is the CPU each event costs, projected below.',
    '',
    `projection of throughput vs shard count: ${PROJECTION_FORMULA}`,
    table(projectionRows),
  ].join('\n');
}

/** Reasons not to take a figure at face value. */
export function cautions(counts: Counts, drainEvents: number, batchSize: number, cores: number): string[] {
  const found: string[] = [];
  for (const [processes, phases] of Object.entries(counts.ingest)) {
    for (const [phase, { requests, failedRequests, clientCpuCores }] of Object.entries(phases)) {
      if (failedRequests > 0)
        found.push(
          `ingest x${processes} ${phase}: ${failedRequests} of ${requests} requests failed (not 2xx, not 400)`,
        );
      if (clientCpuCores > cores / 4) {
        found.push(
          `ingest x${processes} ${phase}: the simulator itself kept ${clientCpuCores.toFixed(2)} of ${cores} cores busy`,
        );
      }
    }
  }
  for (const [workers, events] of Object.entries(counts.drainedEvents)) {
    if (events < drainEvents / 2)
      found.push(
        `drain ${workers}: timed only ${events} of ${drainEvents} events, the rest went before the warm-up was seen to end`,
      );
  }
  for (const [phase, { tracers, lostTracers, failedRequests, backlogWhenSendingStopped }] of [
    ['end to end (share of peak ingest)', counts.endToEnd],
    ['end to end (share of drain rate)', counts.endToEndSustained],
    ['sustained rate (at 80%)', counts.sustainedAtEightyPercent],
  ] as const) {
    if (lostTracers > 0)
      found.push(`${phase}: ${lostTracers} of ${tracers} tracers were never seen, so its latencies are lower bounds`);
    if (failedRequests > 0) found.push(`${phase}: ${failedRequests} requests failed`);
    if (backlogWhenSendingStopped > 2 * batchSize) {
      found.push(
        `${phase}: the workers were ${backlogWhenSendingStopped} entries behind when sending stopped; they cannot sustain this rate`,
      );
    }
  }
  for (const [topology, workloads] of Object.entries(counts.topology ?? {})) {
    for (const [workload, { shards }] of Object.entries(workloads)) {
      const idle = shards.filter((shard) => shard.events === 0).map((shard) => shard.port);
      if (idle.length > 0)
        found.push(
          `${topology} ${workload}: the node(s) on port ${idle.join(', ')} held no partition, so the per-shard costs leave them out`,
        );
    }
    const { failedRequests, requests } = workloads.batchIngest.requests;
    if (failedRequests > 0)
      found.push(`${topology} batch ingest: ${failedRequests} of ${requests} requests failed (not 2xx, not 400)`);
  }
  return found;
}
