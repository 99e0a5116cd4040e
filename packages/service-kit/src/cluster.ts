import cluster from 'node:cluster';
import type { Logger } from './logger';

/**
 * Runs `count` copies of this script sharing its listening port through node:cluster, so one
 * service can use every core. The primary restarts a copy that dies, and on SIGTERM or SIGINT
 * passes the signal on and exits once every copy has finished its requests.
 */
export function runProcesses(count: number, logger: Logger): void {
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'process died; starting another');
    fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping all processes');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < count; i++) fork();
}

export const isPrimaryProcess = (): boolean => cluster.isPrimary;
