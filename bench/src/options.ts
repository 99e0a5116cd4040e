import { join } from 'node:path';
import { TOPOLOGIES, type Topology } from './shards';

export interface BenchOptions {
  readonly quick: boolean;
  /** The whole run's rough budget; the timed phases get fixed shares of it. */
  readonly durationSeconds: number;
  /** The ingest-api's process count the targets are judged on; a full run also measures one process. */
  readonly processes: number;
  readonly batchSize: number;
  /** Distinct sources the simulated fleet posts as. */
  readonly devices: number;
  /** Share of simulated events the ingest must reject (0 to 1). */
  readonly invalidShare: number;
  readonly singleConnections: number;
  readonly batchConnections: number;
  /** Series the stream pre-fill and the raw store writes spread over. */
  readonly series: number;
  readonly drainEvents: number;
  readonly workerReadCount: number;
  readonly endToEndWorkers: number;
  /** The end-to-end run's rate as a share of the peak batch ingest rate. */
  readonly endToEndFraction: number;
  /** Where the comparison of one node and a cluster runs (batch ingest and drains over partitioned streams); empty skips it. */
  readonly topologies: readonly Topology[];
  readonly output: string;
  /** A Redis to run against instead of a private one; the bench FLUSHALLs it between phases. */
  readonly redisUrl: string | undefined;
  /** INGEST_ROLLUP_BACKEND of the services; native unless told (auto probes the server). */
  readonly backend: 'native' | 'timeseries' | 'auto';
  /** Workers of the sustained-rate phase. */
  readonly sustainedWorkers: number;
  /** Series of the bucket-boundary phase, all moving in step. */
  readonly boundarySeries: number;
  /** When set, every service runs with --cpu-prof and writes its profile here. */
  readonly cpuProfileDir: string | undefined;
}

export const USAGE = `usage: node bench/dist/main.js [--quick] [--duration-seconds N] [--processes N] [--batch-size N]
  [--devices N] [--invalid-share F] [--single-connections N] [--batch-connections N] [--series N]
  [--drain-events N] [--worker-read-count N] [--end-to-end-workers N] [--end-to-end-fraction F]
  [--topology single|cluster|both|none] [--output FILE] [--cpu-prof DIR]
  [--redis-url URL] [--backend native|timeseries|auto] [--sustained-workers N] [--boundary-series N]
--redis-url runs every phase against that server (FLUSHALL between phases: never a server holding data you need).
The topology comparison runs on both by default, and not at all in quick mode unless --topology asks for it.`;

const DEFAULT_OUTPUT = join(__dirname, '..', 'results.json');

type NumericOption = Exclude<
  keyof BenchOptions,
  'quick' | 'topologies' | 'output' | 'cpuProfileDir' | 'redisUrl' | 'backend'
>;

const BACKENDS = ['native', 'timeseries', 'auto'] as const;

const TOPOLOGY_CHOICES: Record<string, readonly Topology[]> = {
  single: ['single'],
  cluster: ['cluster'],
  both: TOPOLOGIES,
  none: [],
};

const NUMERIC_FLAGS: Record<string, { key: NumericOption; integer: boolean; min: number; max: number }> = {
  '--duration-seconds': { key: 'durationSeconds', integer: false, min: 5, max: 3_600 },
  '--processes': { key: 'processes', integer: true, min: 1, max: 64 },
  '--batch-size': { key: 'batchSize', integer: true, min: 2, max: 100_000 },
  '--devices': { key: 'devices', integer: true, min: 1, max: 10_000_000 },
  '--invalid-share': { key: 'invalidShare', integer: false, min: 0, max: 0.5 },
  '--single-connections': { key: 'singleConnections', integer: true, min: 1, max: 1_024 },
  '--batch-connections': { key: 'batchConnections', integer: true, min: 1, max: 1_024 },
  '--series': { key: 'series', integer: true, min: 1, max: 10_000_000 },
  '--drain-events': { key: 'drainEvents', integer: true, min: 1_000, max: 100_000_000 },
  '--worker-read-count': { key: 'workerReadCount', integer: true, min: 1, max: 10_000 },
  '--end-to-end-workers': { key: 'endToEndWorkers', integer: true, min: 1, max: 64 },
  '--end-to-end-fraction': { key: 'endToEndFraction', integer: false, min: 0.01, max: 1 },
  '--sustained-workers': { key: 'sustainedWorkers', integer: true, min: 1, max: 64 },
  '--boundary-series': { key: 'boundarySeries', integer: true, min: 10, max: 1_000_000 },
};

export class UsageError extends Error {}

/** Reads `--flag value` and `--flag=value` arguments; quick mode only changes the defaults. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const pairs: [string, string | undefined][] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const equals = arg.indexOf('=');
    if (equals > 0) pairs.push([arg.slice(0, equals), arg.slice(equals + 1)]);
    else if (arg === '--quick') pairs.push([arg, undefined]);
    else pairs.push([arg, argv[++i]]);
  }
  const quick = pairs.some(([flag]) => flag === '--quick');
  const numbers: Record<NumericOption, number> = {
    durationSeconds: quick ? 20 : 180,
    processes: 2,
    batchSize: 1_000,
    devices: 10_000,
    invalidShare: 0.01,
    singleConnections: 32,
    batchConnections: 8,
    series: 10_000,
    drainEvents: quick ? 50_000 : 200_000,
    workerReadCount: 1_000,
    endToEndWorkers: 2,
    endToEndFraction: 0.5,
    sustainedWorkers: 2,
    boundarySeries: 5_000,
  };
  let redisUrl: string | undefined;
  let backend: BenchOptions['backend'] = 'native';
  let output = DEFAULT_OUTPUT;
  let cpuProfileDir: string | undefined;
  let topologies: readonly Topology[] = quick ? [] : TOPOLOGIES;
  for (const [flag, value] of pairs) {
    if (flag === '--quick') continue;
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value\n${USAGE}`);
    if (flag === '--output') output = value;
    else if (flag === '--cpu-prof') cpuProfileDir = value;
    else if (flag === '--redis-url') redisUrl = value;
    else if (flag === '--backend') {
      if (!(BACKENDS as readonly string[]).includes(value))
        throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got "${value}"`);
      backend = value as BenchOptions['backend'];
    } else if (flag === '--topology') {
      const choice = TOPOLOGY_CHOICES[value];
      if (!choice)
        throw new UsageError(`--topology must be one of ${Object.keys(TOPOLOGY_CHOICES).join(', ')}, got "${value}"`);
      topologies = choice;
    } else {
      const spec = NUMERIC_FLAGS[flag];
      if (!spec) throw new UsageError(`unknown option ${flag}\n${USAGE}`);
      const number = Number(value);
      if (
        !Number.isFinite(number) ||
        (spec.integer && !Number.isInteger(number)) ||
        number < spec.min ||
        number > spec.max
      ) {
        throw new UsageError(
          `${flag} must be ${spec.integer ? 'an integer' : 'a number'} from ${spec.min} to ${spec.max}, got "${value}"`,
        );
      }
      numbers[spec.key] = number;
    }
  }
  return { quick, ...numbers, topologies, output, cpuProfileDir, redisUrl, backend };
}

/** How long each timed phase runs, from the overall budget. */
export function phaseDurations(options: BenchOptions) {
  const budgetMs = options.durationSeconds * 1_000;
  return {
    singleEventsMs: budgetMs * 0.12,
    batchesMs: budgetMs * 0.12,
    /** Each of the two end-to-end phases. */
    endToEndMs: budgetMs * 0.1,
    /** Batch ingest on each deployment of the topology comparison. */
    topologyBatchesMs: budgetMs * 0.05,
    /** How long a rate must keep the backlog flat to count as sustained, and the bisection's trials. */
    sustainedHoldMs: options.quick ? 3_000 : 30_000,
    sustainedTrials: options.quick ? 2 : 6,
    /** Bucket width of the boundary phase, which runs for four of them. */
    boundaryBucketMs: options.quick ? 1_000 : 10_000,
    /** Untimed start of each load phase, so the services' JIT has warmed up before counting. */
    warmupShare: 0.15,
  };
}

/** A full run compares one process with the configured count; a quick run measures only the latter. */
export function processCountsToMeasure(options: BenchOptions): number[] {
  return options.quick || options.processes === 1 ? [options.processes] : [1, options.processes];
}
