import { spawn, type ChildProcess } from 'node:child_process';

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A suite that fails before its afterAll, or forgets to stop a server, must neither keep jest waiting
 * nor leave servers holding ports and memory. So servers do not keep this process alive, and a
 * watchdog kills each one once this process is gone (an 'exit' listener would not do: jest hands test
 * modules a copy of `process` whose listeners never fire).
 */
export function killWhenOrphaned(server: ChildProcess): void {
  server.unref();
  const watch =
    'while kill -0 "$1" && kill -0 "$2"; do sleep 1; done 2>/dev/null; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null';
  spawn('sh', ['-c', watch, 'test-server-watchdog', String(process.pid), String(server.pid)], {
    stdio: 'ignore',
  }).unref();
}

/** A server that ignores SIGTERM this long (e.g. stuck writing) is killed outright. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  const escalation = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
  await exited(child);
  clearTimeout(escalation);
}
