import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from '@redis/client';
import { packedEntry } from '@redis-ingest/redis-schema';
import { eventually, isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';

/** Built by the root `pnpm test`, which runs every workspace's build before jest. */
const MAIN_JS = join(__dirname, '..', 'dist', 'main.js');

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

function launch(env: Record<string, string>): {
  child: ChildProcess;
  logs: LogLine[];
  logged(msg: string): Promise<LogLine>;
} {
  const child = spawn(process.execPath, [MAIN_JS], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiting: { msg: string; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    logs.push(line);
    for (const waiter of waiting.filter(({ msg }) => msg === line.msg)) waiter.resolve(line);
  });
  const logged = (msg: string) =>
    new Promise<LogLine>((resolve) => {
      const seen = logs.find((line) => line.msg === msg);
      if (seen) resolve(seen);
      else waiting.push({ msg, resolve });
    });
  return { child, logs, logged };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
}

describe('node apps/worker/dist/main.js', () => {
  const redis = createClient({ url: testRedisUrl() });

  beforeAll(async () => {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build the workspaces first (pnpm test does)`);
    await redis.connect();
  });
  afterAll(() => redis.destroy());

  it('processes events and exits 0 on SIGTERM', async () => {
    const env = isolatedEnv(testRedisUrl(), {
      LOG_LEVEL: 'info',
      WORKER_ADMIN_PORT: '0',
      WORKER_CONSUMER_NAME: 'spawned-1',
    });
    const { child, logs, logged } = launch(env);
    const exit = exitOf(child);
    try {
      const started = await logged('worker service started');
      expect(started).toMatchObject({ consumer: 'spawned-1', backend: expect.any(String) });
      const event = { source: 'spawned', metric: 'm', value: 1, occurredAt: '2026-03-01T10:00:00.000Z' };
      await redis.xAdd(env.INGEST_STREAM_KEY!, '*', packedEntry(event));
      const response = await fetch(`http://127.0.0.1:${started.adminPort as number}/healthz`);
      expect(response.status).toBe(200);
      const groups = () => redis.xInfoGroups(env.INGEST_STREAM_KEY!);
      await eventually(
        async () => (await groups()).every(({ lag, pending }) => lag === 0 && pending === 0),
        5_000,
        'the event acked',
      );
      expect(await groups()).toEqual([expect.objectContaining({ lag: 0, pending: 0 })]);
    } finally {
      child.kill('SIGTERM');
    }
    const { code, signal } = await exit;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(logs.map(({ msg }) => msg)).toEqual(expect.arrayContaining(['stopping', 'worker closed']));
    expect(logs.filter(({ level }) => level >= 50)).toEqual([]);
  });

  it('exits 1 naming the variable when the configuration is bad', async () => {
    const { child } = launch(isolatedEnv(testRedisUrl(), { WORKER_BLOCK_MS: '0' }));
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^WORKER_BLOCK_MS: /);
  });
});
