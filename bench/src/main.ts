import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createKeys,
  createRedisClient,
  createRollupStore,
  loadPipelineConfig,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import { isolatedEnv, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { rawStoreWriteRate, redisInfoField, xaddCeiling } from './ceiling';
import { createGroupAtStart, fillStream, groupBacklog, timeDrain } from './drain';
import { measureEndToEnd } from './end-to-end';
import { runClosedLoop, type LoadResult } from './load';
import { UsageError, parseOptions, phaseDurations, processCountsToMeasure, type BenchOptions } from './options';
import { ProcessRegistry, peakRssOf, type ServiceProcess } from './processes';
import { cautions, evaluateTargets, formatReport, rateFigures, ratiosToCeilings, type Counts, type Figures } from './report';
import { startIngestApi, startWorkers } from './services';
import { batchBodies, singleEventBodies, type Fleet } from './workload';

const startedAt = performance.now();
const log = (message: string) => process.stderr.write(`[bench ${((performance.now() - startedAt) / 1_000).toFixed(1)}s] ${message}\n`);

const MIB = 1_048_576;
/** Distinct batch bodies cycled through; enough that no two requests in flight carry the same one. */
const BATCH_BODIES = 32;
const DRAIN_TIMEOUT_MS = 120_000;

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
    private readonly redis: RedisServer,
    private readonly client: RedisClient,
  ) {
    this.durations = phaseDurations(options);
  }

  /** Fresh key names and the native backend for each phase; every phase ends with FLUSHALL. */
  private freshEnv(): Record<string, string> {
    return isolatedEnv(this.redis.url, { LOG_LEVEL: 'warn', INGEST_ROLLUP_BACKEND: 'native' });
  }

  private async flush(): Promise<void> {
    await this.client.sendCommand(['FLUSHALL']);
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
    log(`redis-benchmark XADD ceiling on port ${this.redis.port}`);
    const xaddPerSecond = await xaddCeiling(this.redis.port, createKeys(loadPipelineConfig(this.freshEnv()).keys).stream, options.quick ? 200_000 : 1_000_000);
    await this.flush();

    log(`native store raw write: ${options.drainEvents} samples over ${options.series} series`);
    const rawStore = await createRollupStore(this.client, loadPipelineConfig(this.freshEnv()));
    const nativeRawSamplesPerSecond = await rawStoreWriteRate(rawStore, options.drainEvents, options.series, this.baseMs);
    await this.flush();

    const ingest: Figures['ingest'] = {};
    const ingestCounts: Counts['ingest'] = {};
    for (const processes of processCountsToMeasure(options)) {
      const measured = await this.ingestPhase(processes);
      ingest[String(processes)] = measured.figures;
      ingestCounts[String(processes)] = measured.counts;
    }

    const oneWorker = await this.drainPhase(1);
    const twoWorkers = await this.drainPhase(2);

    const peakBatchRate = ingest[String(options.processes)]!.batches.eventsPerSecond;
    const endToEnd = await this.endToEndPhase(peakBatchRate * options.endToEndFraction);

    const figures: Figures = {
      ceiling: { xaddPerSecond, nativeRawSamplesPerSecond },
      ingest,
      drain: { oneWorkerEventsPerSecond: oneWorker.eventsPerSecond, twoWorkersEventsPerSecond: twoWorkers.eventsPerSecond },
      endToEnd: endToEnd.figures,
      memory: {
        redisBytesPerMillionEvents: oneWorker.bytesPerMillionEvents,
        peakRssMb: {
          ingestApiProcess: this.peakRss.ingestApi / MIB,
          worker: this.peakRss.worker / MIB,
          redis: (peakRssOf(Number(await redisInfoField(this.client, 'server', 'process_id'))) ?? 0) / MIB,
        },
      },
    };
    const counts: Counts = {
      ingest: ingestCounts,
      drainedEvents: { oneWorker: oneWorker.events, twoWorkers: twoWorkers.events },
      endToEnd: endToEnd.counts,
    };
    return { figures, counts };
  }

  private async ingestPhase(processes: number) {
    const { options, durations } = this;
    const env = this.freshEnv();
    const api = await startIngestApi(this.registry, env, processes);
    const load = (durationMs: number, connections: number, bodies: string[]) =>
      runClosedLoop({ origin: api.origin, connections, durationMs, warmupMs: durationMs * durations.warmupShare, bodies });
    try {
      log(`ingest x${processes}: single events over ${options.singleConnections} connections, ${(durations.singleEventsMs / 1_000).toFixed(1)} s`);
      const single = await load(durations.singleEventsMs, options.singleConnections, singleEventBodies(this.fleet, options.devices));
      log(`ingest x${processes}: batches of ${options.batchSize} over ${options.batchConnections} connections, ${(durations.batchesMs / 1_000).toFixed(1)} s`);
      const batches = await load(durations.batchesMs, options.batchConnections, batchBodies(this.fleet, options.batchSize, BATCH_BODIES));
      return {
        figures: {
          singleEvents: rateFigures(single.requestsPerSecond, single.eventsPerSecond, single.latency),
          batches: rateFigures(batches.requestsPerSecond, batches.eventsPerSecond, batches.latency),
        },
        counts: { singleEvents: countsOf(single), batches: countsOf(batches) },
      };
    } finally {
      await this.stopServices('ingestApi', [api.service]);
      await this.flush();
    }
  }

  private async drainPhase(workerCount: number) {
    const { options, client } = this;
    const env = this.freshEnv();
    const config = loadPipelineConfig(env);
    const keys = createKeys(config.keys);
    await createGroupAtStart(client, keys.stream, config.consumerGroup);
    log(`drain x${workerCount}: filling the stream with ${options.drainEvents} events over ${options.series} series`);
    const memoryBefore = Number(await redisInfoField(client, 'memory', 'used_memory'));
    await fillStream(client, keys.stream, options.drainEvents, options.series, this.baseMs);
    const memoryAfter = Number(await redisInfoField(client, 'memory', 'used_memory'));
    const workers = await startWorkers(this.registry, env, workerCount, options.workerReadCount);
    try {
      const drained = await timeDrain(client, keys.stream, config.consumerGroup, DRAIN_TIMEOUT_MS);
      log(`drain x${workerCount}: timed ${drained.events} of ${options.drainEvents} events (any others went before every worker was up)`);
      const deadLettered = Number(await client.sendCommand(['XLEN', keys.deadLetter]));
      if (deadLettered > 0) throw new Error(`the workers dead-lettered ${deadLettered} valid events`);
      return { ...drained, bytesPerMillionEvents: ((memoryAfter - memoryBefore) / options.drainEvents) * 1_000_000 };
    } finally {
      await this.stopServices('worker', workers);
      await this.flush();
    }
  }

  private async endToEndPhase(eventsPerSecond: number) {
    const { options, durations } = this;
    const env = this.freshEnv();
    const config = loadPipelineConfig(env);
    const { stream } = createKeys(config.keys);
    await createGroupAtStart(this.client, stream, config.consumerGroup);
    const workers = await startWorkers(this.registry, env, options.endToEndWorkers, options.workerReadCount);
    const api = await startIngestApi(this.registry, env, options.processes);
    try {
      const store = await createRollupStore(this.client, config);
      log(`end to end: ${Math.round(eventsPerSecond)} events/s with ${options.endToEndWorkers} workers, ${(durations.endToEndMs / 1_000).toFixed(1)} s`);
      const result = await measureEndToEnd({
        origin: api.origin,
        store,
        eventsPerSecond,
        openBodies: batchBodies(this.fleet, options.batchSize - 1, BATCH_BODIES, { open: true }),
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
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  const registry = new ProcessRegistry(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []);
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
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every process the bench started`);
      void cleanUp().finally(() => process.exit(code));
    });
  }

  const [loadAverageAtStart] = loadavg();
  try {
    redis = await startRedisServer();
    client = createRedisClient(redis.url, {
      name: 'bench',
      logger: { warn: (object, message) => log(`${message} ${JSON.stringify(object)}`) },
    });
    await client.connect();
    registry.adopt(Number(await redisInfoField(client, 'server', 'process_id')));
    const { figures, counts } = await new Bench(options, registry, redis, client).run();
    const ratios = ratiosToCeilings(figures, options.processes);
    const targets = evaluateTargets(figures, ratios, options.processes);
    const { output, ...settings } = options;
    const warnings = cautions(counts, options.drainEvents, options.batchSize, cpus().length);
    const results = {
      machine: await machine(client, loadAverageAtStart!),
      settings: { ...settings, phases: phaseDurations(options) },
      figures,
      ratios,
      targets,
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
