import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_OPTIONS } from '@redis-ingest/service-kit';
import { request } from 'undici';

const STOP_GRACE_MS = 10_000;
const OUTPUT_TAIL_CHARS = 4_000;

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  /** The highest resident set size (VmHWM) of the process and of each process it started, in bytes. */
  peakRssBytes(): number[];
  /** CPU seconds (user + system) the process and each process it started have used so far. */
  cpuSeconds(): number;
  /** The same, process by process: the service's own first, then each process it started. */
  cpuSecondsByProcess(): number[];
  /** Fails with the service's last output when it has exited. */
  assertRunning(): void;
  /** SIGTERM to the service, SIGKILL to its whole process group if it has not exited in time. */
  stop(): Promise<void>;
}

/** VmHWM of one process in bytes, or undefined once it is gone. */
export function peakRssOf(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1_024 : undefined;
  } catch {
    return undefined;
  }
}

let clockTicksPerSecond: number | undefined;

/** utime + stime of one process in seconds, or 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** The parent pid from /proc/<pid>/stat; the command name before it may itself contain spaces and parentheses. */
export function parentPidFromStat(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function descendantsOf(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = parentPidFromStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process exited between the listing and the read.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const children = parents.get(queue.shift()!) ?? [];
    found.push(...children);
    queue.push(...children);
  }
  return found;
}

/**
 * Every process the bench starts, so that an error or Ctrl-C still ends them all. Each service runs
 * in a process group of its own: the cluster processes an ingest-api forks go with it, and a Ctrl-C
 * in the terminal reaches only the bench, which then stops them in order.
 */
export class ProcessRegistry {
  private readonly running = new Map<number, ServiceProcess>();
  /** Processes started elsewhere (redis-server) that a hard exit must still take down. */
  private readonly adopted = new Set<number>();

  constructor(private readonly nodeArgs: readonly string[] = []) {}

  startNodeService(name: string, script: string, env: Record<string, string>): ServiceProcess {
    const child = spawn(process.execPath, [...this.nodeArgs, script], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: SERVICE_NODE_OPTIONS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${name} did not start`);
    let output = '';
    const keepTail = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout.on('data', keepTail);
    child.stderr.on('data', keepTail);
    let stopping = false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      this.running.delete(pid);
      if (!stopping)
        process.stderr.write(`${name} (pid ${pid}) exited early (code ${code}, signal ${signal}):\n${output}\n`);
    });
    const service: ServiceProcess = {
      name,
      pid,
      peakRssBytes: () =>
        [pid, ...descendantsOf(pid)].map(peakRssOf).filter((bytes): bytes is number => bytes !== undefined),
      cpuSeconds: () => [pid, ...descendantsOf(pid)].reduce((sum, each) => sum + cpuSecondsOf(each), 0),
      cpuSecondsByProcess: () => [pid, ...descendantsOf(pid)].map(cpuSecondsOf),
      assertRunning: () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited:\n${output}`);
      },
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        stopping = true;
        child.kill('SIGTERM');
        const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
        killGroup(pid, 'SIGKILL');
        if (timedOut) await exited;
      },
    };
    this.running.set(pid, service);
    return service;
  }

  adopt(pid: number): void {
    this.adopted.add(pid);
  }

  /** Once an adopted process has been stopped, so that its pid, maybe reused by then, is left alone. */
  release(pid: number): void {
    this.adopted.delete(pid);
  }

  /** Once every adopted process has been stopped. */
  releaseAll(): void {
    this.adopted.clear();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((service) => service.stop()));
  }

  /** For process 'exit', where nothing can be awaited any more. */
  killAllNow(): void {
    for (const pid of this.running.keys()) killGroup(pid, 'SIGKILL');
    for (const pid of this.adopted) killProcess(pid, 'SIGKILL');
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  killProcess(-pid, signal);
}

function killProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Polls a GET endpoint until it answers 2xx, failing early when the service has exited. */
export async function waitForHttp(url: string, service: ServiceProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    service.assertRunning();
    try {
      const response = await request(url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await response.body.dump();
      if (response.statusCode < 300) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${service.name} did not answer ${url} within ${timeoutMs} ms`);
    await sleep(20);
  }
}
