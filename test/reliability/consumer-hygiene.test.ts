import { createRedisClient, encodeEvent, type RedisClient } from '@redis-ingest/redis-schema';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../../apps/worker/src/service';
import { T0, eventually, pipelineEnv, silent, sleep, telemetryEvent } from './support';

const CONSUMER_IDLE_MS = 300;
const MAINTENANCE_INTERVAL_MS = 50;

describe('consumer hygiene', () => {
  let client: RedisClient;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    client = createRedisClient(testRedisUrl(), { name: 'hygiene-test', logger: silent });
    await client.connect();
  });
  afterAll(async () => {
    await worker?.close();
    client.destroy();
  });

  it('removes a long-idle consumer without pending entries and keeps one that holds entries', async () => {
    const config = loadWorkerConfig(
      pipelineEnv(testRedisUrl(), {
        WORKER_CONSUMER_IDLE_MS: String(CONSUMER_IDLE_MS),
        WORKER_MAINTENANCE_INTERVAL_MS: String(MAINTENANCE_INTERVAL_MS),
        WORKER_RECLAIM_IDLE_MS: '600000',
      }),
    );
    const { streamKey: stream } = config.keys;
    const group = config.consumerGroup;
    await client.sendCommand(['XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM']);
    await client.xAdd(stream, '*', { source: 'held' });
    // Not a valid event, but it never reaches the worker: the holder read it and stopped.
    await client.sendCommand(['XREADGROUP', 'GROUP', group, 'holder', 'COUNT', '1', 'STREAMS', stream, '>']);
    await client.sendCommand(['XGROUP', 'CREATECONSUMER', stream, group, 'left-empty']);
    const names = async () => (await client.xInfoConsumers(stream, group)).map(({ name }) => name).sort();

    worker = await startWorker(config, silent);
    // Redis 7.0 creates a consumer on its first delivery, so the worker gets one entry of its own.
    await client.xAdd(stream, '*', encodeEvent(telemetryEvent('device', 1, T0)));
    await eventually(async () => !(await names()).includes('left-empty'), 5_000, 'the idle consumer removed');
    // Many more maintenance rounds past the idle limit: the holder stays, and so does the worker.
    await sleep(CONSUMER_IDLE_MS + 10 * MAINTENANCE_INTERVAL_MS);
    expect(await names()).toEqual(['holder', worker.consumer].sort());
    expect((await client.xPending(stream, group)).pending).toBe(1);
  });
});
