import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BENCH = join(__dirname, '..', 'dist', 'main.js');

/** Every leaf of a JSON value, by dotted path. */
function leaves(value: unknown, path = ''): Map<string, unknown> {
  if (typeof value !== 'object' || value === null) return new Map([[path, value]]);
  return new Map(Object.entries(value).flatMap(([key, child]) => [...leaves(child, path ? `${path}.${key}` : key)]));
}

const RATE_FIGURES = ['requestsPerSecond', 'eventsPerSecond', 'p50Ms', 'p99Ms'];

describe('bench --quick', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-ingest-bench-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every figure and ratio as a positive number, judges every target and projects from a cluster', async () => {
    if (!existsSync(BENCH)) throw new Error(`${BENCH} is missing: build first (pnpm build)`);
    const output = join(dir, 'results.json');
    // A small drain keeps the cluster comparison within the suite's time.
    const args = [BENCH, '--quick', '--topology', 'cluster', '--drain-events', '20000', '--output', output];
    const { stdout } = await run(process.execPath, args, { timeout: 170_000, maxBuffer: 16 * 1_048_576 });
    const results = JSON.parse(readFileSync(output, 'utf8'));

    const figures = leaves(results.figures);
    const shardFigures = [...figures.keys()].filter((path) => path.includes('.shardCpuMicrosPerEvent.'));
    expect(shardFigures.length).toBeGreaterThanOrEqual(3);
    const { redisByCommand } = results.figures.sustained;
    expect(redisByCommand.length).toBeGreaterThanOrEqual(1);
    for (const { command, microsPerEvent, callsPerEvent } of redisByCommand) {
      // Module commands are named like ts.madd.
      expect(command).toMatch(/^[a-z][a-z0-9.|_-]*$/);
      expect(microsPerEvent).toBeGreaterThan(0);
      expect(callsPerEvent).toBeGreaterThan(0);
    }
    const commandFigures = [...figures.keys()].filter((path) => path.startsWith('sustained.redisByCommand.'));
    expect(
      [...figures.keys()].filter((path) => !shardFigures.includes(path) && !commandFigures.includes(path)).sort(),
    ).toEqual(
      [
        'ceiling.xaddPerSecond',
        'ceiling.nativeRawSamplesPerSecond',
        ...RATE_FIGURES.map((name) => `ingest.2.singleEvents.${name}`),
        ...RATE_FIGURES.map((name) => `ingest.2.batches.${name}`),
        ...RATE_FIGURES.map((name) => `ingest.2.lineProtocol.${name}`),
        'ingest.2.singleEvents.nodeMicrosPerEvent',
        'ingest.2.batches.nodeMicrosPerEvent',
        'ingest.2.lineProtocol.nodeMicrosPerEvent',
        'batchSize',
        'drain.oneWorkerEventsPerSecond',
        'drain.twoWorkersEventsPerSecond',
        'drain.oneWorkerNodeMicrosPerEvent',
        'drain.oneWorkerRedisMicrosPerEvent',
        'client.rawEventsPerSecond',
        'client.clientEventsPerSecond',
        'client.retried',
        'sustained.eventsPerSecond',
        'sustained.ratioToXaddCeiling',
        'sustained.workers',
        ...['eventsPerSecond', 'p50Ms', 'p99Ms'].map((name) => `sustained.atEightyPercent.${name}`),
        'sustained.cpuSecondsPerMillionEvents.redis',
        ...[0, 1, 2].map((i) => `sustained.cpuSecondsPerMillionEvents.ingestApiProcesses.${i}`),
        ...[0, 1].map((i) => `sustained.cpuSecondsPerMillionEvents.workers.${i}`),
        ...[0, 1].flatMap((i) =>
          ['eventsPerSecond', 'held', 'maxBacklog'].map((name) => `sustained.trials.${i}.${name}`),
        ),
        ...[
          'eventsPerSecond',
          'bucketMs',
          'series',
          'boundaryP99Ms',
          'otherP99Ms',
          'boundaryWindows',
          'otherWindows',
          'ratio',
          'slowScriptCalls',
          'slowestScriptCallMs',
          'slowOtherCalls',
          'slowestOtherCallMs',
        ].map((name) => `boundary.${name}`),
        ...['endToEnd', 'endToEndSustained'].flatMap((phase) =>
          ['targetEventsPerSecond', 'eventsPerSecond', 'p50Ms', 'p99Ms'].map((name) => `${phase}.${name}`),
        ),
        'memory.redisBytesPerMillionEvents',
        'memory.peakRssMb.ingestApiProcess',
        'memory.peakRssMb.worker',
        'memory.peakRssMb.redis',
        ...['batchIngest', 'drainOneWorker', 'drainTwoWorkers'].flatMap((workload) =>
          ['eventsPerSecond', 'redisCpuMicrosPerEvent', 'serviceCpuMicrosPerEvent'].map(
            (name) => `topology.cluster.${workload}.${name}`,
          ),
        ),
        'topology.cluster.shards',
      ].sort(),
    );
    expect(results.projection.formula).toMatch(/min\(service capacity, S × 1 \/ c\)/);
    expect(
      results.projection.rows.map((row: { shards: number; costFrom: string }) => [row.shards, row.costFrom]),
    ).toEqual([1, 2, 3, 4, 6, 8].map((shards) => [shards, 'cluster']));
    for (const row of results.projection.rows) {
      for (const [name, value] of Object.entries(row)) {
        if (name !== 'costFrom')
          expect({ name, positive: typeof value === 'number' && value > 0 }).toEqual({ name, positive: true });
      }
    }
    expect(stdout).toMatch(/cannot show a real speed-up/);
    const ratios = leaves(results.ratios);
    expect(ratios.size).toBeGreaterThan(0);
    // A search trial may fail or find no backlog (on a busy box every quick trial may fail, leaving a
    // sustained rate of 0), a run may have no slow call, and the ingest-api's primary process only
    // hands connections to its forks, using less CPU than the clock tick: these may be 0 or false.
    const mayBeZero = (path: string) =>
      path.startsWith('sustained.trials.') ||
      path.startsWith('boundary.slow') ||
      path === 'client.retried' ||
      path === 'sustained.cpuSecondsPerMillionEvents.ingestApiProcesses.0' ||
      /^sustained(ToXaddCeiling|\.eventsPerSecond|\.ratioToXaddCeiling)$/.test(path);
    for (const [path, value] of [...figures, ...ratios]) {
      if (mayBeZero(path) || commandFigures.includes(path)) continue;
      expect({ path, positive: typeof value === 'number' && Number.isFinite(value) && value > 0 }).toEqual({
        path,
        positive: true,
      });
    }
    expect(results.targets).toHaveLength(12);
    for (const target of results.targets) {
      expect(typeof target.pass).toBe('boolean');
      expect(Number.isFinite(target.actual)).toBe(true);
    }
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.redis).toMatch(/^\d+\.\d+/);
    for (const workload of ['batchIngest', 'drainOneWorker', 'drainTwoWorkers']) {
      const { events, shards } = results.counts.topology.cluster[workload];
      expect(shards).toHaveLength(3);
      expect(shards.reduce((total: number, shard: { events: number }) => total + shard.events, 0)).toBe(events);
    }
  }, 180_000);
});
