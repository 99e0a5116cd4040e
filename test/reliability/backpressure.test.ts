import { testRedisUrl } from '@redis-ingest/test-utils';
import type { RunningIngestApi } from '../../apps/ingest-api/src/server';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../../apps/worker/src/service';
import { T0, eventually, pipelineEnv, postEvents, silent, startIngestApi, telemetryEvent } from './support';

const MAX_BACKLOG = 40;

describe('backpressure with a real worker', () => {
  let ingest: RunningIngestApi | undefined;
  let worker: RunningWorker | undefined;
  afterAll(async () => {
    await ingest?.stop();
    await worker?.close();
  });

  it('answers 503 once the backlog reaches INGEST_MAX_BACKLOG, and 2xx again once the worker has drained it', async () => {
    const env = pipelineEnv(testRedisUrl(), {
      INGEST_MAX_BACKLOG: String(MAX_BACKLOG),
      INGEST_ROLLUP_BACKEND: 'native',
    });
    ingest = await startIngestApi(env);
    let k = 0;
    const post = () => postEvents(ingest!.port, [telemetryEvent('device', k, T0 + k++)]);

    const statuses: number[] = [];
    for (let i = 0; i < MAX_BACKLOG + 5; i++) statuses.push((await post()).status);
    expect(statuses).toEqual([...Array<number>(MAX_BACKLOG).fill(202), ...Array<number>(5).fill(503)]);

    worker = await startWorker(loadWorkerConfig(env), silent);
    await eventually(async () => (await post()).status === 202, 10_000, 'ingest accepting again');
    const points = await worker.context.store.range(
      { source: 'device', metric: 'load' },
      { fromMs: T0, toMs: T0 + k, limit: 1_000 },
    );
    expect(points.length).toBeGreaterThanOrEqual(MAX_BACKLOG);
  });
});
