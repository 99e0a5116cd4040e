import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createKeys,
  createRedisClient,
  createRollupStore,
  loadPipelineConfig,
  type Keys,
  type RedisClient,
  type RedisLogger,
} from '@redis-ingest/redis-schema';
import { isolatedEnv, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { rawStoreWriteRate, redisConfigValue, redisInfoField, writeDeviceReadings, xaddCeiling } from './ceiling';
import { commandCostsPerEvent } from './command-stats';
import {
  redisCommandStats,
  redisCpuSeconds,
  redisUsedMemory,
  singleDeployment,
  startClusterDeployment,
  type Deployment,
} from './deployment';
import { createGroupsAtStart, fillStream, groupBacklog, timeDrain, untilBacklogAtMost } from './drain';
import { measureEndToEnd } from './end-to-end';
import { runClientPhase } from './client-phase';
import { lineProtocolBodies, postLines } from './line-protocol';
import { runClosedLoop, type ClosedLoopOptions, type LoadResult } from './load';
import { USAGE, UsageError, parseOptions, phaseDurations, processCountsToMeasure, type BenchOptions } from './options';
import { ProcessRegistry, peakRssOf, type ServiceProcess } from './processes';
import {
  cautions,
  evaluateTargets,
  formatReport,
  formatTopologyComparison,
  rateFigures,
  ratiosToCeilings,
  type Counts,
  type Figures,
  type TopologyCounts,
} from './report';
import { startIngestApi, startWorkers } from './services';
import {
  CLUSTER_PRIMARIES,
  COMPARED_PARTITIONS,
  PROJECTION_ASSUMPTIONS,
  PROJECTION_FORMULA,
  clusterToSingleRatios,
  projectThroughput,
  workloadCounts,
  workloadFigures,
  type CpuReading,
  type TopologyComparison,
} from './shards';
import { SlowLog } from './slow-log';
import { latencyAroundBoundaries, rateHeld, searchSustainedRate } from './sustained';
import { batchBodies, freshOpenBodies, nowOpenBatch, singleEventBodies, type Fleet } from './workload';

const startedAt = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - startedAt) / 1_000).toFixed(1)}s] ${message}\n`);

const MIB = 1_048_576;
/** Distinct batch bodies cycled through; enough that no two requests in flight carry the same one. */
const BATCH_BODIES = 32;
const DRAIN_TIMEOUT_MS = 120_000;
/** The drains' untimed first entries, as a share of --drain-events, during which the workers warm up. */
const DRAIN_WARMUP_SHARE = 0.25;
/** Small batches, many a second: enough tracers in every window of the boundary phase to take a p99. */
const BOUNDARY_BATCH_SIZE = 200;
/** The boundary phase judges p99 per window of a fifth of a bucket. */
const BOUNDARY_WINDOWS_PER_BUCKET = 5;
/** Script calls longer than this stall every other client; the boundary phase counts them. */
const SLOW_CALL_MICROS = 5_000;
/** The sustained phase names the commands that took most of Redis' time, this many. */
const COSTLIEST_COMMANDS = 5;
/** Shard counts the projection covers. */
const PROJECTED_SHARDS = [1, 2, 3, 4, 6, 8];

const redisLogger: RedisLogger = { warn: (object, message) => log(`${message} ${JSON.stringify(object)}`) };

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/** The most entries Redis puts in one node of a stream: its default where CONFIG is refused. */
async function streamNodeMaxEntries(client: RedisClient): Promise<number> {
  try {
    return Number(await redisConfigValue(client, 'stream-node-max-entries'));
  } catch {
    return 100;
  }
}

async function cpuReading(deployment: Deployment, services: readonly ServiceProcess[]): Promise<CpuReading> {
  return {
    redisCpuSeconds: await Promise.all(deployment.nodes.map(redisCpuSeconds)),
    serviceCpuSeconds: sum(services.map((service) => service.cpuSeconds())),
  };
}

/** For each partition, the index in deployment.nodes of the node holding it. */
function nodeOfPartition(deployment: Deployment, keys: Keys): Promise<number[]> {
  return Promise.all(
    keys.partitions.map(async ({ stream }) => deployment.nodes.indexOf(await deployment.nodeFor(stream))),
  );
}

function countsOf({ requests, refusedRequests, failedRequests, clientCpuCores }: LoadResult) {
  return { requests, refusedRequests, failedRequests, clientCpuCores };
}

class Bench {
  private readonly durations: ReturnType<typeof phaseDurations>;
  private readonly peakRss = { ingestApi: 0, worker: 0 };
  /** Readings are an hour old: well inside raw retention, and clear of the tracers' timestamps. */
  private readonly baseMs = Date.now() - 3_600_000;

  constructor(
    private readonly options: BenchOptions,
    private readonly registry: ProcessRegistry,
    private readonly redisUrl: string,
    private readonly client: RedisClient,
  ) {
    this.durations = phaseDurations(options);
    this.single = singleDeployment(redisUrl, client);
  }

  private readonly single: Deployment;

  /** Fresh key names and the native backend for each phase; every phase ends with FLUSHALL. */
  private freshEnv(deployment = this.single, partitions = 1): Record<string, string> {
    return isolatedEnv(deployment.url, {
      LOG_LEVEL: 'warn',
      INGEST_ROLLUP_BACKEND: this.options.backend,
      INGEST_STREAM_PARTITIONS: String(partitions),
      ...deployment.serviceEnv,
    });
  }

  private async flush(): Promise<void> {
    await this.single.flush();
  }

  private async stopServices(kind: keyof Bench['peakRss'], services: readonly ServiceProcess[]): Promise<void> {
    for (const service of services) {
      service.assertRunning();
      this.peakRss[kind] = Math.max(this.peakRss[kind], ...service.peakRssBytes());
    }
    await Promise.all(services.map((service) => service.stop()));
  }

  private get fleet(): Fleet {
    return { devices: this.options.devices, invalidShare: this.options.invalidShare, baseMs: this.baseMs };
  }

  async run() {
    const { options } = this;
    log(`redis-benchmark XADD ceiling on ${this.redisUrl}`);
    const xaddPerSecond = await xaddCeiling(
      this.redisUrl,
      createKeys(loadPipelineConfig(this.freshEnv()).keys).stream,
      options.quick ? 200_000 : 1_000_000,
    );
    await this.flush();

    log(`native store raw write: ${options.drainEvents} samples over ${options.series} series`);
    const rawStore = await createRollupStore(this.client, loadPipelineConfig(this.freshEnv()));
    const nativeRawSamplesPerSecond = await rawStoreWriteRate(
      rawStore,
      options.drainEvents,
      options.series,
      this.baseMs,
    );
    await this.flush();

    const ingest: Figures['ingest'] = {};
    const ingestCounts: Counts['ingest'] = {};
    for (const processes of processCountsToMeasure(options)) {
      const measured = await this.ingestPhase(processes);
      ingest[String(processes)] = measured.figures;
      ingestCounts[String(processes)] = measured.counts;
    }

    const client = await this.clientPhase();
    const oneWorker = await this.drainPhase(this.single, this.freshEnv(), 1);
    const twoWorkers = await this.drainPhase(this.single, this.freshEnv(), 2);

    const peakBatchRate = ingest[String(options.processes)]!.batches.eventsPerSecond;
    const endToEnd = await this.endToEndPhase(peakBatchRate * options.endToEndFraction);
    // Above what the workers drain, the backlog grows for the whole phase and latency measures the queue's age.
    const drainRate = (options.endToEndWorkers === 1 ? oneWorker : twoWorkers).eventsPerSecond;
    const endToEndSustained = await this.endToEndPhase(Math.min(peakBatchRate, drainRate) * options.endToEndFraction);
    const sustained = await this.sustainedPhase(peakBatchRate, xaddPerSecond);
    // Half the sustained rate keeps the workers ahead. Should no rate have held (a loaded box, short quick
    // trials), ten batches per window at the least, since a window with fewer tracers is not judged.
    const windowsPerSecond = (1_000 / this.durations.boundaryBucketMs) * BOUNDARY_WINDOWS_PER_BUCKET;
    const boundary = await this.boundaryPhase(
      Math.max(sustained.figures.eventsPerSecond / 2, BOUNDARY_BATCH_SIZE * 10 * Math.max(1, windowsPerSecond)),
    );
    const redisPeakRss =
      (this.options.redisUrl === undefined &&
        peakRssOf(Number(await redisInfoField(this.client, 'server', 'process_id')))) ||
      0;
    const topology = await this.compareTopologies();

    const figures: Figures = {
      ceiling: { xaddPerSecond, nativeRawSamplesPerSecond },
      batchSize: options.batchSize,
      ingest,
      drain: {
        oneWorkerEventsPerSecond: oneWorker.eventsPerSecond,
        twoWorkersEventsPerSecond: twoWorkers.eventsPerSecond,
        oneWorkerNodeMicrosPerEvent: oneWorker.workerMicrosPerEvent,
        oneWorkerRedisMicrosPerEvent: oneWorker.redisMicrosPerEvent,
      },
      sustained: sustained.figures,
      boundary,
      client: {
        rawEventsPerSecond: client.raw.eventsPerSecond,
        clientEventsPerSecond: client.client.eventsPerSecond,
        retried: client.client.retried,
      },
      endToEnd: endToEnd.figures,
      endToEndSustained: endToEndSustained.figures,
      memory: {
        redisBytesPerMillionEvents: oneWorker.bytesPerMillionEvents,
        peakRssMb: {
          ingestApiProcess: this.peakRss.ingestApi / MIB,
          worker: this.peakRss.worker / MIB,
          redis: redisPeakRss / MIB,
        },
      },
      ...(options.topologies.length > 0 ? { topology: topology.figures } : {}),
    };
    const counts: Counts = {
      ingest: ingestCounts,
      drainedEvents: { oneWorker: oneWorker.events, twoWorkers: twoWorkers.events },
      endToEnd: endToEnd.counts,
      endToEndSustained: endToEndSustained.counts,
      sustainedAtEightyPercent: sustained.counts,
      ...(options.topologies.length > 0 ? { topology: topology.counts } : {}),
    };
    return { figures, counts };
  }

  /**
   * The same partitioned workload on one node and on a cluster: batch ingest, then drains with one
   * and two workers, each with every node's CPU read before and after.
   */
  private async compareTopologies() {
    const figures: TopologyComparison = {};
    const counts: TopologyCounts = {};
    for (const topology of this.options.topologies) {
      if (topology === 'cluster') log(`starting a Redis Cluster of ${CLUSTER_PRIMARIES} primaries without replicas`);
      const deployment =
        topology === 'single'
          ? this.single
          : await startClusterDeployment(CLUSTER_PRIMARIES, this.registry, redisLogger);
      try {
        const batchIngest = await this.batchIngestCost(deployment);
        const env = () => this.freshEnv(deployment, COMPARED_PARTITIONS);
        const drainOneWorker = await this.drainPhase(deployment, env(), 1);
        const drainTwoWorkers = await this.drainPhase(deployment, env(), 2);
        figures[topology] = {
          shards: deployment.nodes.length,
          batchIngest: batchIngest.figures,
          drainOneWorker: workloadFigures(drainOneWorker.eventsPerSecond, drainOneWorker.cost),
          drainTwoWorkers: workloadFigures(drainTwoWorkers.eventsPerSecond, drainTwoWorkers.cost),
        };
        counts[topology] = {
          batchIngest: batchIngest.counts,
          drainOneWorker: drainOneWorker.cost,
          drainTwoWorkers: drainTwoWorkers.cost,
        };
      } finally {
        await deployment.stop();
      }
    }
    return { figures, counts };
  }

  private closedLoop(
    origin: string,
    durationMs: number,
    connections: number,
    bodies: string[],
    post?: ClosedLoopOptions['post'],
  ): Promise<LoadResult> {
    return runClosedLoop({
      origin,
      connections,
      durationMs,
      warmupMs: durationMs * this.durations.warmupShare,
      bodies,
      post,
    });
  }

  /** Batches into a partitioned stream; each node's CPU is set against the events its partitions took. */
  private async batchIngestCost(deployment: Deployment) {
    const { options, durations } = this;
    const env = this.freshEnv(deployment, COMPARED_PARTITIONS);
    const keys = createKeys(loadPipelineConfig(env).keys);
    const nodes = await nodeOfPartition(deployment, keys);
    const api = await startIngestApi(this.registry, env, options.processes);
    try {
      log(
        `${deployment.topology}: batches of ${options.batchSize} into ${keys.partitions.length} partitions over ${options.batchConnections} connections, ${(durations.topologyBatchesMs / 1_000).toFixed(1)} s`,
      );
      const before = await cpuReading(deployment, [api.service]);
      const load = await this.closedLoop(
        api.origin,
        durations.topologyBatchesMs,
        options.batchConnections,
        batchBodies(this.fleet, options.batchSize, BATCH_BODIES),
      );
      const after = await cpuReading(deployment, [api.service]);
      const appended = await Promise.all(
        keys.partitions.map(async ({ stream }) => Number(await deployment.client.sendCommand(['XLEN', stream]))),
      );
      const cost = workloadCounts(
        deployment.nodes.map((node) => node.port),
        nodes,
        appended,
        before,
        after,
      );
      return { figures: workloadFigures(load.eventsPerSecond, cost), counts: { ...cost, requests: countsOf(load) } };
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await deployment.flush();
    }
  }

  private async ingestPhase(processes: number) {
    const { options, durations } = this;
    const env = this.freshEnv();
    const api = await startIngestApi(this.registry, env, processes);
    const load = (durationMs: number, connections: number, bodies: string[]) =>
      this.closedLoop(api.origin, durationMs, connections, bodies);
    try {
      const { stream } = createKeys(loadPipelineConfig(env).keys);
      const appended = async () => Number(await this.client.sendCommand(['XLEN', stream]));
      // Node CPU over every event the phase appended, warm-up included, on both sides of the division. Each
      // format starts on an empty server, so none pays for the memory the formats before it filled.
      const cpuPerEvent = async (run: () => Promise<LoadResult>) => {
        await this.flush();
        const [cpuBefore, eventsBefore] = [api.service.cpuSeconds(), await appended()];
        const result = await run();
        const events = (await appended()) - eventsBefore;
        return { result, nodeMicrosPerEvent: ((api.service.cpuSeconds() - cpuBefore) / Math.max(events, 1)) * 1e6 };
      };
      log(
        `ingest x${processes}: single events over ${options.singleConnections} connections, ${(durations.singleEventsMs / 1_000).toFixed(1)} s`,
      );
      const single = await cpuPerEvent(() =>
        load(durations.singleEventsMs, options.singleConnections, singleEventBodies(this.fleet, options.devices)),
      );
      log(
        `ingest x${processes}: batches of ${options.batchSize} over ${options.batchConnections} connections, ${(durations.batchesMs / 1_000).toFixed(1)} s`,
      );
      const batches = await cpuPerEvent(() =>
        load(durations.batchesMs, options.batchConnections, batchBodies(this.fleet, options.batchSize, BATCH_BODIES)),
      );
      log(
        `ingest x${processes}: line protocol, ${options.batchSize} points a write over ${options.batchConnections} connections, ${(durations.batchesMs / 1_000).toFixed(1)} s`,
      );
      const lines = await cpuPerEvent(() =>
        this.closedLoop(
          api.origin,
          durations.batchesMs,
          options.batchConnections,
          lineProtocolBodies(this.fleet, options.batchSize, BATCH_BODIES),
          postLines,
        ),
      );
      return {
        figures: {
          singleEvents: {
            ...rateFigures(single.result.requestsPerSecond, single.result.eventsPerSecond, single.result.latency),
            nodeMicrosPerEvent: single.nodeMicrosPerEvent,
          },
          batches: {
            ...rateFigures(batches.result.requestsPerSecond, batches.result.eventsPerSecond, batches.result.latency),
            nodeMicrosPerEvent: batches.nodeMicrosPerEvent,
          },
          lineProtocol: {
            ...rateFigures(lines.result.requestsPerSecond, lines.result.eventsPerSecond, lines.result.latency),
            nodeMicrosPerEvent: lines.nodeMicrosPerEvent,
          },
        },
        counts: {
          singleEvents: countsOf(single.result),
          batches: countsOf(batches.result),
          lineProtocol: countsOf(lines.result),
        },
      };
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await this.flush();
    }
  }

  /**
   * Fills every partition of the stream, starts the workers and times them until nothing is left,
   * from the moment they are down to --drain-events entries: the entries before those warm them up.
   * Each node's CPU is set against the timed events of the partitions it holds.
   */
  private async drainPhase(deployment: Deployment, env: Record<string, string>, workerCount: number) {
    const { options } = this;
    const { client } = deployment;
    const config = loadPipelineConfig(env);
    const keys = createKeys(config.keys);
    const streams = keys.partitions.map(({ stream }) => stream);
    const nodes = await nodeOfPartition(deployment, keys);
    const usedMemory = async () => sum(await Promise.all(deployment.nodes.map(redisUsedMemory)));
    await createGroupsAtStart(client, streams, config.consumerGroup);
    const label = `${deployment.topology} drain x${workerCount}`;
    const warmupEvents = Math.round(options.drainEvents * DRAIN_WARMUP_SHARE);
    const filled = warmupEvents + options.drainEvents;
    log(
      `${label}: filling ${streams.length} partition${streams.length === 1 ? '' : 's'} with ${filled} events over ${options.series} series`,
    );
    const memoryBefore = await usedMemory();
    await fillStream(client, keys, filled, options.series, this.baseMs);
    const memoryAfter = await usedMemory();
    const workers = await startWorkers(this.registry, env, workerCount, options.workerReadCount);
    try {
      await untilBacklogAtMost(client, streams, config.consumerGroup, options.drainEvents, DRAIN_TIMEOUT_MS);
      const before = await cpuReading(deployment, workers);
      const drained = await timeDrain(client, streams, config.consumerGroup, DRAIN_TIMEOUT_MS);
      const after = await cpuReading(deployment, workers);
      log(`${label}: timed ${drained.events} of ${filled} events (the first ones warmed the workers up)`);
      const deadLettered = sum(
        await Promise.all(
          keys.partitions.map(async ({ deadLetter }) => Number(await client.sendCommand(['XLEN', deadLetter]))),
        ),
      );
      if (deadLettered > 0) throw new Error(`the workers dead-lettered ${deadLettered} valid events`);
      return {
        events: drained.events,
        eventsPerSecond: drained.eventsPerSecond,
        workerMicrosPerEvent: ((after.serviceCpuSeconds - before.serviceCpuSeconds) / drained.events) * 1e6,
        redisMicrosPerEvent: ((sum(after.redisCpuSeconds) - sum(before.redisCpuSeconds)) / drained.events) * 1e6,
        bytesPerMillionEvents: ((memoryAfter - memoryBefore) / filled) * 1_000_000,
        cost: workloadCounts(
          deployment.nodes.map((node) => node.port),
          nodes,
          drained.eventsByPartition,
          before,
          after,
        ),
      };
    } finally {
      await this.stopServices('worker', workers);
      await deployment.flush();
    }
  }

  /** The same readings posted as prebuilt batches and through @redis-ingest/client, one after the other. */
  private async clientPhase() {
    const { options } = this;
    const api = await startIngestApi(this.registry, this.freshEnv(), options.processes);
    try {
      log(
        `client: ${options.drainEvents} events raw, then the same through IngestClient, ${options.batchConnections} requests in flight`,
      );
      return await runClientPhase({
        origin: api.origin,
        events: options.drainEvents,
        batchSize: options.batchSize,
        connections: options.batchConnections,
        devices: options.devices,
      });
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await this.flush();
    }
  }

  /**
   * The highest constant rate at which ingest and workers, running together, keep the group's
   * backlog under one second's worth of events for the whole hold (searched by bisection between 0
   * and the peak batch ingest), then end-to-end latency and every process's CPU at 80% of it.
   * Every batch carries samples its series have not had, as a live fleet sends them.
   */
  private async sustainedPhase(peakBatchRate: number, xaddPerSecond: number) {
    const { options, durations } = this;
    const env = this.freshEnv();
    const config = loadPipelineConfig(env);
    const { stream } = createKeys(config.keys);
    await createGroupsAtStart(this.client, [stream], config.consumerGroup);
    const workers = await startWorkers(this.registry, env, options.sustainedWorkers, options.workerReadCount);
    const api = await startIngestApi(this.registry, env, options.processes);
    const backlog = () => groupBacklog(this.client, stream, config.consumerGroup);
    // One timeline for every trial: a trial's readings follow the last one's.
    const openBody = freshOpenBodies(this.fleet, options.batchSize - 1);
    try {
      const store = await createRollupStore(this.client, config);
      const run = (eventsPerSecond: number, durationMs: number) =>
        measureEndToEnd({
          origin: api.origin,
          store,
          eventsPerSecond,
          openBody,
          batchSize: options.batchSize,
          connections: options.batchConnections * 4,
          durationMs,
          warmupMs: Math.min(2_000, durationMs * durations.warmupShare),
          settleMs: 0,
          tracerBaseMs: Date.now(),
          backlog,
        });
      const settle = async () => {
        const deadline = performance.now() + DRAIN_TIMEOUT_MS;
        while ((await backlog()) > 0 && performance.now() < deadline) await sleep(50);
      };
      const search = await searchSustainedRate({
        low: 0,
        high: peakBatchRate,
        steps: durations.sustainedTrials,
        trial: async (eventsPerSecond) => {
          log(
            `sustained: holding ${Math.round(eventsPerSecond)} events/s for ${(durations.sustainedHoldMs / 1_000).toFixed(0)} s`,
          );
          let maxBacklog = 0;
          let sampling = true;
          const sampler = (async () => {
            await sleep(2_000);
            while (sampling) {
              maxBacklog = Math.max(maxBacklog, await backlog());
              await sleep(100);
            }
          })();
          const result = await run(eventsPerSecond, durations.sustainedHoldMs + 2_000).finally(
            () => (sampling = false),
          );
          await sampler;
          await settle();
          return {
            held: rateHeld(eventsPerSecond, maxBacklog, result.failedRequests, result.eventsPerSecond),
            maxBacklog,
          };
        },
      });
      const rate = search.eventsPerSecond;
      const measuredRate = Math.max(rate * 0.8, options.batchSize);
      log(`sustained: ${Math.round(rate)} events/s held; end to end and CPU at ${Math.round(measuredRate)} events/s`);
      const redisNode = this.single.nodes[0]!;
      const before = {
        redis: await redisCpuSeconds(redisNode),
        redisCommands: await redisCommandStats(redisNode),
        ingest: api.service.cpuSecondsByProcess(),
        workers: workers.map((w) => w.cpuSeconds()),
      };
      const appendedBefore = Number(await this.client.sendCommand(['XLEN', stream]));
      const atEighty = await run(measuredRate, durations.sustainedHoldMs);
      await settle();
      const events = Number(await this.client.sendCommand(['XLEN', stream])) - appendedBefore;
      const perMillion = (seconds: number) => (seconds / events) * 1e6;
      const ingestAfter = api.service.cpuSecondsByProcess();
      return {
        figures: {
          eventsPerSecond: rate,
          ratioToXaddCeiling: rate / xaddPerSecond,
          workers: options.sustainedWorkers,
          atEightyPercent: {
            eventsPerSecond: atEighty.eventsPerSecond,
            p50Ms: atEighty.latency.p50Ms,
            p99Ms: atEighty.latency.p99Ms,
          },
          cpuSecondsPerMillionEvents: {
            redis: perMillion((await redisCpuSeconds(redisNode)) - before.redis),
            ingestApiProcesses: ingestAfter.map((seconds, i) => perMillion(seconds - (before.ingest[i] ?? 0))),
            workers: workers.map((worker, i) => perMillion(worker.cpuSeconds() - before.workers[i]!)),
          },
          redisByCommand: commandCostsPerEvent(
            before.redisCommands,
            await redisCommandStats(redisNode),
            events,
            COSTLIEST_COMMANDS,
          ),
          trials: search.trials.map(({ eventsPerSecond, outcome }) => ({ eventsPerSecond, ...outcome })),
        },
        counts: {
          tracers: atEighty.tracers,
          lostTracers: atEighty.lostTracers,
          failedRequests: atEighty.failedRequests,
          backlogWhenSendingStopped: atEighty.backlogWhenSendingStopped,
        },
      };
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await this.stopServices('worker', workers);
      await this.flush();
    }
  }

  /**
   * A fleet of `boundarySeries` series sending readings stamped now, so that every series closes a
   * bucket in the same second, across four bucket boundaries: end-to-end p99 in the windows that
   * hold a boundary against the others, and Redis' slow log of calls over 5 ms. The series have a
   * past longer than the first node of a raw stream, as a fleet that has been reporting has: on
   * fresh series, the one-off growth of every series at once, not the boundaries, could decide the
   * figures (in the sorted sets the native store used to keep raw samples in, it did).
   */
  private async boundaryPhase(eventsPerSecond: number) {
    const { options, durations } = this;
    const bucketMs = durations.boundaryBucketMs;
    const env = { ...this.freshEnv(), INGEST_ROLLUP_BUCKET_MS: String(bucketMs) };
    const config = loadPipelineConfig(env);
    const { stream } = createKeys(config.keys);
    const store = await createRollupStore(this.client, config);
    const historyReadings = (await streamNodeMaxEntries(this.client)) + 1;
    log(`bucket boundaries: a past of ${historyReadings} readings for each of ${options.boundarySeries} series`);
    // One second apart, ending a second ago.
    const historyStartMs = Date.now() - (historyReadings + 1) * 1_000;
    await writeDeviceReadings(store, historyReadings * options.boundarySeries, options.boundarySeries, historyStartMs);
    await createGroupsAtStart(this.client, [stream], config.consumerGroup);
    const workers = await startWorkers(this.registry, env, options.sustainedWorkers, options.workerReadCount);
    const api = await startIngestApi(this.registry, env, options.processes);
    const slowLog = await SlowLog.open(this.client, SLOW_CALL_MICROS);
    let sent = 0;
    try {
      // Starts just after a boundary, so the four that follow fall inside the run.
      await sleep(bucketMs - (Date.now() % bucketMs) + 50);
      log(
        `bucket boundaries: ${Math.round(eventsPerSecond)} events/s over ${options.boundarySeries} series, buckets of ${bucketMs / 1_000} s`,
      );
      const result = await measureEndToEnd({
        origin: api.origin,
        store,
        eventsPerSecond,
        openBody: () => {
          const body = nowOpenBatch(options.boundarySeries, sent, BOUNDARY_BATCH_SIZE - 1, Date.now());
          sent += BOUNDARY_BATCH_SIZE - 1;
          return body;
        },
        batchSize: BOUNDARY_BATCH_SIZE,
        connections: options.batchConnections * 4,
        durationMs: bucketMs * 4,
        warmupMs: bucketMs / 2,
        settleMs: 5_000,
        tracerBaseMs: Date.now(),
        backlog: () => groupBacklog(this.client, stream, config.consumerGroup),
      });
      const windows = latencyAroundBoundaries(
        result.tracerLatencies.filter(({ dueAtMs }) => dueAtMs >= result.measuredFromMs),
        bucketMs,
        bucketMs / BOUNDARY_WINDOWS_PER_BUCKET,
      );
      const slow = await slowLog.read();
      return {
        eventsPerSecond: result.eventsPerSecond,
        bucketMs,
        series: options.boundarySeries,
        ...windows,
        ratio: windows.boundaryP99Ms / windows.otherP99Ms,
        ...slow,
      };
    } finally {
      await slowLog.close();
      await this.stopServices('ingestApi', [api.service]);
      await this.stopServices('worker', workers);
      await this.flush();
    }
  }

  private async endToEndPhase(eventsPerSecond: number) {
    const { options, durations } = this;
    const env = this.freshEnv();
    const config = loadPipelineConfig(env);
    const { stream } = createKeys(config.keys);
    await createGroupsAtStart(this.client, [stream], config.consumerGroup);
    const workers = await startWorkers(this.registry, env, options.endToEndWorkers, options.workerReadCount);
    const api = await startIngestApi(this.registry, env, options.processes);
    try {
      const store = await createRollupStore(this.client, config);
      log(
        `end to end: ${Math.round(eventsPerSecond)} events/s with ${options.endToEndWorkers} workers, ${(durations.endToEndMs / 1_000).toFixed(1)} s`,
      );
      const result = await measureEndToEnd({
        origin: api.origin,
        store,
        eventsPerSecond,
        openBody: freshOpenBodies(this.fleet, options.batchSize - 1),
        batchSize: options.batchSize,
        connections: options.batchConnections,
        durationMs: durations.endToEndMs,
        warmupMs: durations.endToEndMs * durations.warmupShare,
        settleMs: options.quick ? 3_000 : 30_000,
        tracerBaseMs: Date.now(),
        backlog: () => groupBacklog(this.client, stream, config.consumerGroup),
      });
      return {
        figures: {
          targetEventsPerSecond: eventsPerSecond,
          eventsPerSecond: result.eventsPerSecond,
          p50Ms: result.latency.p50Ms,
          p99Ms: result.latency.p99Ms,
        },
        counts: {
          tracers: result.tracers,
          lostTracers: result.lostTracers,
          failedRequests: result.failedRequests,
          backlogWhenSendingStopped: result.backlogWhenSendingStopped,
        },
      };
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await this.stopServices('worker', workers);
      await this.flush();
    }
  }
}

async function machine(client: RedisClient, loadAverageAtStart: number) {
  const cores = cpus();
  return {
    cores: cores.length,
    cpuModel: cores[0]?.model ?? 'unknown',
    node: process.version,
    redis: await redisInfoField(client, 'server', 'redis_version'),
    date: new Date().toISOString(),
    /** Other work on the box takes cores from the services: figures from a busy box are low. */
    loadAverageAtStart,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let options: BenchOptions;
  try {
    options = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  const registry = new ProcessRegistry(
    options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [],
  );
  let redis: RedisServer | undefined;
  let client: RedisClient | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await registry.stopAll();
      client?.destroy();
      await redis?.stop();
      registry.releaseAll();
    })());
  process.on('exit', () => registry.killAllNow());
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every process the bench started`);
      void cleanUp().finally(() => process.exit(code));
    });
  }

  const [loadAverageAtStart] = loadavg();
  try {
    if (options.redisUrl === undefined) redis = await startRedisServer();
    const redisUrl = options.redisUrl ?? redis!.url;
    client = createRedisClient(redisUrl, { name: 'bench', logger: redisLogger });
    await client.connect();
    if (redis) registry.adopt(Number(await redisInfoField(client, 'server', 'process_id')));
    const { figures, counts } = await new Bench(options, registry, redisUrl, client).run();
    const ratios = ratiosToCeilings(figures, options.processes);
    const targets = evaluateTargets(figures, ratios, options.processes);
    const projection = figures.topology && {
      formula: PROJECTION_FORMULA,
      assumptions: PROJECTION_ASSUMPTIONS,
      rows: projectThroughput(figures.topology, options.processes, PROJECTED_SHARDS),
    };
    const { output, ...settings } = options;
    const warnings = cautions(counts, options.drainEvents, options.batchSize, cpus().length);
    const results = {
      machine: await machine(client, loadAverageAtStart!),
      settings: { ...settings, phases: phaseDurations(options) },
      figures,
      ratios: { ...ratios, ...(figures.topology ? clusterToSingleRatios(figures.topology) : {}) },
      targets,
      ...(projection ? { projection } : {}),
      counts,
      cautions: warnings,
    };
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, `${JSON.stringify(results, null, 2)}\n`);
    const { machine: box } = results;
    process.stdout.write(
      `${box.cores} x ${box.cpuModel}, Node ${box.node}, Redis ${box.redis}, ${box.date}, ` +
        `load average ${box.loadAverageAtStart.toFixed(2)} at start\n\n` +
        `${formatReport(figures, ratios, targets, options.processes)}\n\n` +
        (figures.topology && projection
          ? `${formatTopologyComparison(figures.topology, results.ratios, projection.rows, box.cores)}\n\n`
          : '') +
        warnings.map((warning) => `caution: ${warning}\n`).join('') +
        `written to ${output}\n`,
    );
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
