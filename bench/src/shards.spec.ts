import {
  clusterToSingleRatios,
  projectThroughput,
  workloadCounts,
  workloadFigures,
  type TopologyFigures,
  type WorkloadFigures,
} from './shards';

describe('workloadCounts', () => {
  it('adds up the events of the partitions each node holds and takes each node’s CPU between the readings', () => {
    const counts = workloadCounts(
      [7001, 7002, 7003],
      [2, 0, 2],
      [100, 300, 50],
      { redisCpuSeconds: [10, 20, 30], serviceCpuSeconds: 5 },
      { redisCpuSeconds: [10.3, 20, 30.15], serviceCpuSeconds: 6 },
    );
    expect(counts.events).toBe(450);
    expect(counts.serviceCpuSeconds).toBe(1);
    expect(counts.shards.map(({ port, events }) => [port, events])).toEqual([
      [7001, 300],
      [7002, 0],
      [7003, 150],
    ]);
    expect(counts.shards.map((shard) => shard.redisCpuSeconds)).toEqual([expect.closeTo(0.3), 0, expect.closeTo(0.15)]);
  });
});

describe('workloadFigures', () => {
  it('weighs the shards by their events and leaves out a shard that held none', () => {
    const figures = workloadFigures(1_000, {
      events: 400,
      serviceCpuSeconds: 0.004,
      shards: [
        { port: 1, events: 300, redisCpuSeconds: 0.003 },
        { port: 2, events: 100, redisCpuSeconds: 0.002 },
        { port: 3, events: 0, redisCpuSeconds: 0.0005 },
      ],
    });
    expect(figures.shardCpuMicrosPerEvent).toEqual([expect.closeTo(10), expect.closeTo(20)]);
    expect(figures.redisCpuMicrosPerEvent).toBeCloseTo(13.75);
    expect(figures.serviceCpuMicrosPerEvent).toBeCloseTo(10);
  });

  it('refuses a workload without events rather than dividing by zero', () => {
    expect(() => workloadFigures(0, { events: 0, serviceCpuSeconds: 1, shards: [] })).toThrow(/no event/);
  });
});

const cost = (
  eventsPerSecond: number,
  redisCpuMicrosPerEvent: number,
  serviceCpuMicrosPerEvent: number,
): WorkloadFigures => ({
  eventsPerSecond,
  redisCpuMicrosPerEvent,
  shardCpuMicrosPerEvent: [redisCpuMicrosPerEvent],
  serviceCpuMicrosPerEvent,
});

const topology = (shards: number, ingestRedisMicros: number, drainRedisMicros: number): TopologyFigures => ({
  shards,
  batchIngest: cost(100_000, ingestRedisMicros, 8),
  drainOneWorker: cost(50_000, drainRedisMicros, 25),
  drainTwoWorkers: cost(80_000, drainRedisMicros, 25),
});

describe('projectThroughput', () => {
  const single = topology(1, 2, 10);
  const cluster = topology(3, 4, 20);

  it('takes the single node’s cost for one shard and the cluster’s beyond, capped by the services', () => {
    const [one, two, eight] = projectThroughput({ single, cluster }, 2, [1, 2, 8]);
    expect(one).toMatchObject({
      shards: 1,
      costFrom: 'single',
      batchIngestRedisBound: 500_000,
      drainRedisBound: 100_000,
    });
    // Two ingest processes at 8 µs per event take 250,000 events/s; two workers at 25 µs, 80,000.
    expect(one!.batchIngestEventsPerSecond).toBeCloseTo(250_000);
    expect(one!.drainTwoWorkersEventsPerSecond).toBeCloseTo(80_000);
    expect(two).toMatchObject({
      shards: 2,
      costFrom: 'cluster',
      batchIngestRedisBound: 500_000,
      drainRedisBound: 100_000,
    });
    expect(eight).toMatchObject({ costFrom: 'cluster', batchIngestRedisBound: 2_000_000, drainRedisBound: 400_000 });
    // 40,000 events/s per worker at 25 µs each.
    expect(eight!.drainWorkersForRedisBound).toBe(10);
    expect(eight!.batchIngestEventsPerSecond).toBeCloseTo(250_000);
  });

  it('falls back to whichever topology was measured', () => {
    expect(projectThroughput({ cluster }, 2, [1, 3]).map((row) => row.costFrom)).toEqual(['cluster', 'cluster']);
    expect(projectThroughput({ single }, 2, [1, 3]).map((row) => row.costFrom)).toEqual(['single', 'single']);
    expect(projectThroughput({}, 2, [1, 3])).toEqual([]);
  });
});

describe('clusterToSingleRatios', () => {
  it('sets every cluster figure against the single node’s, and needs both', () => {
    const ratios = clusterToSingleRatios({ single: topology(1, 2, 10), cluster: topology(3, 4, 20) });
    expect(ratios).toMatchObject({
      clusterToSingleBatchIngestEventsPerSecond: 1,
      clusterToSingleBatchIngestRedisCpuPerEvent: 2,
      clusterToSingleDrainTwoWorkersRedisCpuPerEvent: 2,
    });
    expect(Object.keys(ratios)).toHaveLength(6);
    expect(clusterToSingleRatios({ single: topology(1, 2, 10) })).toEqual({});
  });
});
