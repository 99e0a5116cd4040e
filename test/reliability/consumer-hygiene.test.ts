import { createRedisClient, encodeEvent, type RedisClient } from '@redis-ingest/redis-schema';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { start as startWorker, type RunningWorker } from '../../apps/worker/src/service';
import { T0, eventually, pipelineEnv, silent, telemetryEvent } from './support';

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
    const consumers = () => client.xInfoConsumers(stream, group);
    const names = async () => (await consumers()).map(({ name }) => name).sort();

    worker = await startWorker(config, silent);
    // Redis 7.0 creates a consumer on its first delivery, so the worker gets one entry of its own.
    await client.xAdd(stream, '*', encodeEvent(telemetryEvent('device', 1, T0)));
    await eventually(async () => !(await names()).includes('left-empty'), 5_000, 'the idle consumer removed');
    // Once the holder is past the idle limit, an empty consumer added then is removed by a later round,
    // which would have removed the holder too: it stays, and so does the worker.
    const holderIdle = async () => (await consumers()).find(({ name }) => name === 'holder')!.idle;
    await eventually(async () => (await holderIdle()) > CONSUMER_IDLE_MS, 5_000, 'the holder past the idle limit');
    await client.sendCommand(['XGROUP', 'CREATECONSUMER', stream, group, 'late-empty']);
    await eventually(async () => !(await names()).includes('late-empty'), 5_000, 'the late idle consumer removed');
    expect(await names()).toEqual(['holder', worker.consumer].sort());
    expect((await client.xPending(stream, group)).pending).toBe(1);
  });
});
