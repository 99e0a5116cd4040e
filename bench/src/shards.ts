export const TOPOLOGIES = ['single', 'cluster'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** The stream partitions (INGEST_STREAM_PARTITIONS) of the comparison, on one node and on a cluster alike. */
export const COMPARED_PARTITIONS = 3;
export const CLUSTER_PRIMARIES = 3;
/** The drain workload the projection scales: the comparison's two-worker run. */
const PROJECTED_WORKERS = 2;

/** CPU seconds used so far: each Redis node's, and the services' (ingest-api processes or workers) together. */
export interface CpuReading {
  readonly redisCpuSeconds: readonly number[];
  readonly serviceCpuSeconds: number;
}

export interface ShardCount {
  readonly port: number;
  /** Events of the stream partitions this node holds. */
  readonly events: number;
  readonly redisCpuSeconds: number;
}

/** What one workload's figures rest on. */
export interface WorkloadCounts {
  readonly events: number;
  readonly serviceCpuSeconds: number;
  readonly shards: readonly ShardCount[];
}

/**
 * Each node's CPU between two readings next to the events of the partitions it holds:
 * `nodeOfPartition[i]` is the index (in `ports`) of the node holding partition i.
 */
export function workloadCounts(
  ports: readonly number[],
  nodeOfPartition: readonly number[],
  eventsByPartition: readonly number[],
  before: CpuReading,
  after: CpuReading,
): WorkloadCounts {
  const events = ports.map(() => 0);
  eventsByPartition.forEach((count, partition) => (events[nodeOfPartition[partition]!]! += count));
  return {
    events: events.reduce((total, count) => total + count, 0),
    serviceCpuSeconds: after.serviceCpuSeconds - before.serviceCpuSeconds,
    shards: ports.map((port, node) => ({
      port,
      events: events[node]!,
      redisCpuSeconds: after.redisCpuSeconds[node]! - before.redisCpuSeconds[node]!,
    })),
  };
}

export interface WorkloadFigures {
  readonly eventsPerSecond: number;
  /** Every node's CPU over every event: the weighted mean of the shards' costs. */
  readonly redisCpuMicrosPerEvent: number;
  /** Each node's CPU over the events of its partitions, for the nodes holding any. */
  readonly shardCpuMicrosPerEvent: readonly number[];
  /** The ingest-api's or the workers' CPU per event. */
  readonly serviceCpuMicrosPerEvent: number;
}

const MICROS = 1_000_000;

export function workloadFigures(eventsPerSecond: number, counts: WorkloadCounts): WorkloadFigures {
  if (counts.events === 0) throw new Error('the workload handled no event, so it has no cost per event');
  const redisCpuSeconds = counts.shards.reduce((total, shard) => total + shard.redisCpuSeconds, 0);
  return {
    eventsPerSecond,
    redisCpuMicrosPerEvent: (redisCpuSeconds / counts.events) * MICROS,
    shardCpuMicrosPerEvent: counts.shards
      .filter((shard) => shard.events > 0)
      .map((shard) => (shard.redisCpuSeconds / shard.events) * MICROS),
    serviceCpuMicrosPerEvent: (counts.serviceCpuSeconds / counts.events) * MICROS,
  };
}

/** The comparison's workloads on one deployment. */
export interface TopologyFigures {
  readonly shards: number;
  readonly batchIngest: WorkloadFigures;
  readonly drainOneWorker: WorkloadFigures;
  readonly drainTwoWorkers: WorkloadFigures;
}

export type TopologyComparison = Partial<Record<Topology, TopologyFigures>>;

export const PROJECTION_FORMULA =
  'events/s(S) ≈ min(service capacity, S × 1 / c), where c is the Redis CPU seconds per event per shard (a shard’s CPU ' +
  'over the events of the partitions it holds, weighted over the shards; S = 1 takes the single node’s c, S ≥ 2 the ' +
  'cluster’s) and service capacity = processes × 1 / (the service’s CPU seconds per event): the ingest-api’s configured ' +
  'process count for batch ingest, two workers for the drain (and the workers the Redis bound would take).';

export const PROJECTION_ASSUMPTIONS = [
  'every shard and every service process has a core of its own, and nothing else runs there',
  'events spread evenly over the shards (sources hash to partitions; series hash to slots)',
  'c does not grow with S: on a cluster the store makes one script call per slot a batch touches and the ingest one per partition, whatever the number of shards',
  'the measured CPU costs include what two shared cores add (context switches, cold caches), so they err high',
];

export interface ProjectionRow {
  readonly shards: number;
  readonly costFrom: Topology;
  readonly batchIngestRedisBound: number;
  readonly batchIngestEventsPerSecond: number;
  readonly drainRedisBound: number;
  readonly drainTwoWorkersEventsPerSecond: number;
  /** Workers, each as costly per event as measured, that the Redis-bound drain would take. */
  readonly drainWorkersForRedisBound: number;
}

const capacity = (units: number, microsPerEvent: number) => (units * MICROS) / microsPerEvent;

/** Throughput vs shard count from the measured costs per event (see PROJECTION_FORMULA). */
export function projectThroughput(
  comparison: TopologyComparison,
  processes: number,
  shardCounts: readonly number[],
): ProjectionRow[] {
  return shardCounts.flatMap((shards) => {
    const costFrom: Topology | undefined =
      shards === 1
        ? comparison.single
          ? 'single'
          : comparison.cluster && 'cluster'
        : comparison.cluster
          ? 'cluster'
          : comparison.single && 'single';
    if (costFrom === undefined) return [];
    const { batchIngest, drainTwoWorkers } = comparison[costFrom]!;
    const batchIngestRedisBound = capacity(shards, batchIngest.redisCpuMicrosPerEvent);
    const drainRedisBound = capacity(shards, drainTwoWorkers.redisCpuMicrosPerEvent);
    const perWorker = capacity(1, drainTwoWorkers.serviceCpuMicrosPerEvent);
    return [
      {
        shards,
        costFrom,
        batchIngestRedisBound,
        batchIngestEventsPerSecond: Math.min(
          capacity(processes, batchIngest.serviceCpuMicrosPerEvent),
          batchIngestRedisBound,
        ),
        drainRedisBound,
        drainTwoWorkersEventsPerSecond: Math.min(PROJECTED_WORKERS * perWorker, drainRedisBound),
        drainWorkersForRedisBound: Math.ceil(drainRedisBound / perWorker),
      },
    ];
  });
}

/** The cluster's figures over the single node's, for every workload. */
export function clusterToSingleRatios(comparison: TopologyComparison) {
  const { single, cluster } = comparison;
  if (!single || !cluster) return {};
  const ratios: Record<string, number> = {};
  for (const workload of ['batchIngest', 'drainOneWorker', 'drainTwoWorkers'] as const) {
    const name = workload[0]!.toUpperCase() + workload.slice(1);
    ratios[`clusterToSingle${name}EventsPerSecond`] =
      cluster[workload].eventsPerSecond / single[workload].eventsPerSecond;
    ratios[`clusterToSingle${name}RedisCpuPerEvent`] =
      cluster[workload].redisCpuMicrosPerEvent / single[workload].redisCpuMicrosPerEvent;
  }
  return ratios;
}
