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
  return new Map(
    Object.entries(value).flatMap(([key, child]) => [...leaves(child, path ? `${path}.${key}` : key)]),
  );
}

const RATE_FIGURES = ['requestsPerSecond', 'eventsPerSecond', 'p50Ms', 'p99Ms'];

describe('bench --quick', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-ingest-bench-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every figure and ratio as a positive number and judges every target', async () => {
    if (!existsSync(BENCH)) throw new Error(`${BENCH} is missing: build first (pnpm build)`);
    const output = join(dir, 'results.json');
    await run(process.execPath, [BENCH, '--quick', '--output', output], { timeout: 80_000, maxBuffer: 16 * 1_048_576 });
    const results = JSON.parse(readFileSync(output, 'utf8'));

    const figures = leaves(results.figures);
    expect([...figures.keys()].sort()).toEqual(
      [
        'ceiling.xaddPerSecond',
        'ceiling.nativeRawSamplesPerSecond',
        ...RATE_FIGURES.map((name) => `ingest.2.singleEvents.${name}`),
        ...RATE_FIGURES.map((name) => `ingest.2.batches.${name}`),
        'drain.oneWorkerEventsPerSecond',
        'drain.twoWorkersEventsPerSecond',
        'endToEnd.targetEventsPerSecond',
        'endToEnd.eventsPerSecond',
        'endToEnd.p50Ms',
        'endToEnd.p99Ms',
        'memory.redisBytesPerMillionEvents',
        'memory.peakRssMb.ingestApiProcess',
        'memory.peakRssMb.worker',
        'memory.peakRssMb.redis',
      ].sort(),
    );
    const ratios = leaves(results.ratios);
    expect(ratios.size).toBeGreaterThan(0);
    for (const [path, value] of [...figures, ...ratios]) {
      expect({ path, positive: typeof value === 'number' && Number.isFinite(value) && value > 0 }).toEqual({ path, positive: true });
    }
    expect(results.targets).toHaveLength(6);
    for (const target of results.targets) {
      expect(typeof target.pass).toBe('boolean');
      expect(Number.isFinite(target.actual)).toBe(true);
    }
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.redis).toMatch(/^\d+\.\d+/);
  }, 90_000);
});
