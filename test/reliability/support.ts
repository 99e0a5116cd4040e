import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '@redis-ingest/service-kit';
import { isolatedEnv } from '@redis-ingest/test-utils';
import { loadIngestConfig } from '../../apps/ingest-api/src/config';
import { start as startIngest, type RunningIngestApi } from '../../apps/ingest-api/src/server';

export const silent = createLogger('reliability-test', 'silent');

/** A fixed instant, so that timestamps are the same in every run. */
export const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

/** Built by the root `pnpm test`, which runs every workspace's build before jest. */
export const WORKER_MAIN = join(__dirname, '..', '..', 'apps', 'worker', 'dist', 'main.js');
export const INGEST_MAIN = join(__dirname, '..', '..', 'apps', 'ingest-api', 'dist', 'main.js');
export const QUERY_MAIN = join(__dirname, '..', '..', 'apps', 'query-api', 'dist', 'main.js');

export function requireWorkerBuild(): void {
  if (!existsSync(WORKER_MAIN))
    throw new Error(`${WORKER_MAIN} is missing: build the workspaces first (pnpm test does)`);
}

/** Environment for every service of a test: private key names on `redisUrl`, ephemeral ports, no auth. */
export function pipelineEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return isolatedEnv(redisUrl, {
    INGEST_API_PORT: '0',
    INGEST_API_HOST: '127.0.0.1',
    INGEST_AUTH_REQUIRED: 'false',
    WORKER_ADMIN_PORT: '0',
    WORKER_BLOCK_MS: '200',
    ...overrides,
  });
}

export function startIngestApi(env: Record<string, string>): Promise<RunningIngestApi> {
  return startIngest(loadIngestConfig(env), silent);
}

export interface PostResult {
  readonly status: number;
  readonly body: { accepted?: number; ids?: string[]; error?: string };
  readonly durationMs: number;
}

export async function postEvents(port: number, events: readonly object[]): Promise<PostResult> {
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${port}/api/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  const body = (await response.json()) as PostResult['body'];
  return { status: response.status, body, durationMs: Date.now() - started };
}

export function telemetryEvent(source: string, value: number, timestampMs: number) {
  return { source, metric: 'load', value, occurredAt: new Date(timestampMs).toISOString() };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LogLine {
  readonly msg: string;
  readonly level: number;
  readonly [field: string]: unknown;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Every JSON line it has written to stdout so far. */
  readonly logs: LogLine[];
  readonly exited: Promise<void>;
  /** Resolves with its start-up line once the service has logged that it started. */
  readonly started: Promise<LogLine>;
}

export interface WorkerProcess extends ServiceProcess {
  readonly consumer: string;
}

/** Runs `node <main>` with `env`, collecting its JSON log lines; `startedMessage` is the line that says it serves. */
export function spawnService(main: string, env: Record<string, string>, startedMessage: string): ServiceProcess {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const logs: LogLine[] = [];
  let markStarted!: (line: LogLine) => void;
  const started = new Promise<LogLine>((resolve) => (markStarted = resolve));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return; // The last line of a killed process may be cut short.
    }
    logs.push(line);
    if (line.msg === startedMessage) markStarted(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, logs, exited, started };
}

/** Runs `node apps/worker/dist/main.js` under a fixed consumer name. */
export function spawnWorker(env: Record<string, string>, consumer: string): WorkerProcess {
  return {
    consumer,
    ...spawnService(WORKER_MAIN, { ...env, WORKER_CONSUMER_NAME: consumer }, 'worker service started'),
  };
}

/** SIGKILL, also for a stopped (SIGSTOP) process; resolves once it has exited. */
export async function killHard(worker: ServiceProcess): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await worker.exited;
}

export interface BlackholeProxy {
  readonly url: string;
  /** From now on the connections open at this moment swallow every byte both ways; later ones work. */
  swallowOpenConnections(): void;
  close(): Promise<void>;
}

/** A TCP proxy to a Redis whose connections can go silent without closing, as a half-open connection does. */
export async function blackholeProxy(redisUrl: string): Promise<BlackholeProxy> {
  const { hostname, port } = new URL(redisUrl);
  const connections: { swallowing: boolean; sockets: Socket[] }[] = [];
  const server = createServer((downstream) => {
    const upstream = connect(Number(port), hostname);
    const connection = { swallowing: false, sockets: [downstream, upstream] };
    connections.push(connection);
    downstream.on('data', (data) => connection.swallowing || upstream.write(data));
    upstream.on('data', (data) => connection.swallowing || downstream.write(data));
    for (const socket of connection.sockets) {
      socket.on('error', () => connection.sockets.forEach((one) => one.destroy()));
      socket.on('close', () => connection.sockets.forEach((one) => one.destroy()));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    swallowOpenConnections: () => connections.forEach((connection) => (connection.swallowing = true)),
    close: () => {
      connections.forEach(({ sockets }) => sockets.forEach((socket) => socket.destroy()));
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A redis-server of the test's own on `port` (which a service may be told before Redis runs), with `args`; `stop` kills it. */
export function spawnRedis(port: number, args: readonly string[], { ignoreFileSizeSignal = false } = {}) {
  const all = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...args];
  // An ignored signal stays ignored across exec, so Redis itself ignores SIGXFSZ: a write past its
  // file-size limit then fails with EFBIG, as one to a full disk fails, instead of killing it.
  const child: ChildProcess = ignoreFileSizeSignal
    ? spawn('bash', ['-c', `trap '' XFSZ; exec redis-server "$@"`, 'redis-server', ...all], { stdio: 'ignore' })
    : spawn('redis-server', all, { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    exited,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export { eventually } from '@redis-ingest/test-utils';
