import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@redis-ingest/test-utils';
import { waitForHttp, type ProcessRegistry, type ServiceProcess } from './processes';

const REPO_ROOT = join(__dirname, '..', '..');

function builtScript(app: string): string {
  const script = join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run the build first (pnpm build)`);
  return script;
}

export interface RunningIngestApi {
  readonly origin: string;
  readonly service: ServiceProcess;
}

/**
 * The backlog check is off: the bench fills the stream faster than anything drains it on purpose,
 * and a 503 would measure the limit instead of the ingest.
 */
export async function startIngestApi(
  registry: ProcessRegistry,
  env: Record<string, string>,
  processes: number,
): Promise<RunningIngestApi> {
  const port = await freePort();
  const service = registry.startNodeService(`ingest-api x${processes}`, builtScript('ingest-api'), {
    ...env,
    INGEST_API_PORT: String(port),
    INGEST_API_HOST: '127.0.0.1',
    INGEST_API_PROCESSES: String(processes),
    INGEST_MAX_BACKLOG: '0',
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/healthz`, service);
  return { origin, service };
}

export async function startWorkers(
  registry: ProcessRegistry,
  env: Record<string, string>,
  count: number,
  readCount: number,
): Promise<ServiceProcess[]> {
  const workers = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const port = await freePort();
      const service = registry.startNodeService(`worker ${index + 1}`, builtScript('worker'), {
        ...env,
        WORKER_CONSUMER_NAME: `bench-worker-${index + 1}`,
        WORKER_ADMIN_PORT: String(port),
        WORKER_READ_COUNT: String(readCount),
      });
      return { service, port };
    }),
  );
  await Promise.all(workers.map(({ service, port }) => waitForHttp(`http://127.0.0.1:${port}/healthz`, service)));
  return workers.map(({ service }) => service);
}
