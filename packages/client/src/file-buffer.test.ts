import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startTcpProxy, testRedisUrl, type TcpProxy } from '@redis-ingest/test-utils';
import { FileBuffer } from './file-buffer.ts';
import { IngestClient } from './index.ts';
import { eventIdsInStream, occurrences, startIngestApi, type IngestApiUnderTest } from './test-support/ingest-api.ts';

const packageDir = join(__dirname, '..');
const event = (n: number) => ({ source: 'gateway-1', metric: 'm', value: n, eventId: `e-${n}` });

describe('FileBuffer', () => {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'client-buffer-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('replays the events appended and never settled, in order', async () => {
    const first = new FileBuffer({ directory });
    expect(await first.load()).toEqual([]);
    await first.append([event(0), event(1), event(2)]);
    first.settle(['e-1']);
    await first.append([event(3)]);
    await first.close();
    expect(await new FileBuffer({ directory }).load()).toEqual([event(0), event(2), event(3)]);
  });

  it('removes segments oldest first once everything in them is settled', async () => {
    const buffer = new FileBuffer({ directory, segmentBytes: 1 });
    await buffer.load();
    for (let n = 0; n < 4; n++) await buffer.append([event(n)]);
    const segments = () => readdirSync(directory).length;
    expect(segments()).toBe(5);
    // The newest events settle first: the oldest segment still holds e-0, so nothing can go yet.
    buffer.settle(['e-3', 'e-2', 'e-1']);
    expect(segments()).toBe(5);
    buffer.settle(['e-0']);
    expect(segments()).toBe(1);
    await buffer.close();
    expect(await new FileBuffer({ directory }).load()).toEqual([]);
  });
});

describe('IngestClient with a FileBuffer, killed', () => {
  let under: IngestApiUnderTest;
  let proxy: TcpProxy;
  let directory: string;

  beforeAll(async () => {
    under = await startIngestApi(testRedisUrl());
    proxy = await startTcpProxy(under.api.port);
    directory = mkdtempSync(join(tmpdir(), 'client-buffer-'));
  });
  afterAll(async () => {
    await proxy?.close();
    await under?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('resends after a SIGKILL every event its send() had taken, and each lands once', async () => {
    expect(existsSync(join(packageDir, 'dist', 'file-buffer.js'))).toBe(true);
    // The built package, imported by name from a real ES module context, as an application would.
    const script = `
      import { IngestClient } from '@redis-ingest/client';
      import { FileBuffer } from '@redis-ingest/client/file-buffer';
      const client = new IngestClient({
        url: process.env.TEST_INGEST_URL, journal: new FileBuffer({ directory: process.env.TEST_BUFFER_DIR }),
        maxBatchEvents: 50, maxBufferedEvents: 200, flushIntervalMs: 10, retry: { initialDelayMs: 20, maxDelayMs: 100 },
      });
      client.on('retry', () => console.log('retry'));
      for (let n = 0; ; n++) {
        await client.send({ source: 'gateway-1', metric: 'm', value: n, eventId: 'e-' + n });
        console.log('taken ' + n);
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: packageDir,
      env: { ...process.env, TEST_INGEST_URL: `http://127.0.0.1:${proxy.port}`, TEST_BUFFER_DIR: directory },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    let taken = -1;
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line.startsWith('taken ')) taken = Number(line.slice(6));
      // Half way, the network goes; once the child has felt it, it dies with events held.
      if (taken === 1_000 && !proxy.refuseConnections) proxy.refuseConnections = true;
      if (line === 'retry' && proxy.refuseConnections) break;
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    proxy.refuseConnections = false;

    const deliveredBeforeKill = new Set(await eventIdsInStream(under));
    const replay = new IngestClient({ url: under.url, journal: new FileBuffer({ directory }) });
    await replay.close();
    expect(replay.metrics().accepted).toBeGreaterThan(0);

    const ids = await eventIdsInStream(under);
    expect([...occurrences(ids).values()].every((times) => times === 1)).toBe(true);
    const expected = Array.from({ length: taken + 1 }, (_, n) => `e-${n}`);
    expect(expected.filter((id) => !ids.includes(id))).toEqual([]);
    expect(expected.filter((id) => !deliveredBeforeKill.has(id)).length).toBeGreaterThan(0);
    expect(readdirSync(directory)).toHaveLength(1);
  }, 60_000);
});
