import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killWhenOrphaned, terminate } from './child-process';
import { redisCommand, redisPipeline } from './redis-command';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server abruptly (SIGKILL), as a crash or network loss would look to clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory, keeping what it persisted. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

export function hasRedisServerBinary(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis on 127.0.0.1:`port` answers PING. */
export function ping(port: number): Promise<boolean> {
  return redisCommand(port, ['PING'], 500).then(
    (reply) => reply === 'PONG',
    () => false,
  );
}

/** Polls `check` until it holds; throws naming `what` once `timeoutMs` has passed. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Polls until `check` holds; a check that throws (Redis still reconnecting) counts as not yet, and the
 * last error is reported if time runs out.
 */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(lastError)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. ['--appendonly', 'yes']. */
  readonly args?: readonly string[];
  /** The default user's password (--requirepass), which the start-up check must send before PING. */
  readonly password?: string;
}

/** Starts a private `redis-server` on a free port with a throwaway directory. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-ingest-test-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    ...(options.args ?? []),
  ];
  const { password } = options;
  if (password !== undefined) args.push('--requirepass', password);
  const answers =
    password === undefined
      ? () => ping(port)
      : () =>
          redisPipeline(port, [['AUTH', password], ['PING']], 500).then(
            ([, pong]) => pong === 'PONG',
            () => false,
          );
  let child: ChildProcess | undefined;

  const launch = async () => {
    const started = spawn('redis-server', args, { stdio: 'ignore' });
    child = started;
    killWhenOrphaned(started);
    await waitUntil(
      async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited with code ${started.exitCode}`);
        return answers();
      },
      10_000,
      `redis-server on port ${port}`,
    );
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (!child) return;
    const running = child;
    child = undefined;
    await terminate(running, signal);
  };

  const stop = async () => {
    await halt('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    stop,
  };
}
