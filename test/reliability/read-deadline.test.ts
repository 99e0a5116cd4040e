import { createRedisClient, encodeEvent, type RedisClient } from '@redis-ingest/redis-schema';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { loadWorkerConfig } from '../../apps/worker/src/config';
import { prepareProcessing } from '../../apps/worker/src/service';
import { ensureConsumerGroup, readGroupWithin } from '../../apps/worker/src/stream-reads';
import { READ_GRACE_MS, Worker } from '../../apps/worker/src/worker';
import { T0, blackholeProxy, eventually, pipelineEnv, silent, telemetryEvent, type BlackholeProxy } from './support';

describe('a blocking read on a connection that went silent', () => {
  let proxy: BlackholeProxy;
  let client: RedisClient;
  const closers: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    proxy = await blackholeProxy(testRedisUrl());
    client = createRedisClient(testRedisUrl(), { name: 'deadline-test', logger: silent });
    await client.connect();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    client.destroy();
    await proxy.close();
  });

  it('is given up at the deadline, destroying its connection', async () => {
    const config = loadWorkerConfig(pipelineEnv(testRedisUrl()));
    await ensureConsumerGroup(client, config.keys.streamKey, config.consumerGroup);
    const reader = createRedisClient(proxy.url, { name: 'deadline-reader', logger: silent });
    closers.push(() => void (reader.isOpen && reader.destroy()));
    await reader.connect();
    proxy.swallowOpenConnections();

    const started = Date.now();
    const read = { stream: config.keys.streamKey, group: config.consumerGroup, consumer: 'c', count: 1, blockMs: 100 };
    await expect(readGroupWithin(reader, read, 400)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(reader.isOpen).toBe(false);
  });

  it('does not leave the worker stuck: it reads on a new connection and processes what arrived', async () => {
    const config = loadWorkerConfig(
      pipelineEnv(testRedisUrl(), {
        WORKER_BLOCK_MS: '100',
        WORKER_RECLAIM_IDLE_MS: '1000',
        WORKER_RECLAIM_INTERVAL_MS: '200',
        INGEST_ROLLUP_BACKEND: 'native',
      }),
    );
    const context = await prepareProcessing(client, config, silent);
    // Only the blocking reads go through the proxy; processing uses the direct connection.
    const worker = new Worker({ context, consumer: 'survivor', config: { ...config, redis: { url: proxy.url } } });
    const running = worker.run();
    closers.push(async () => {
      await worker.close();
      await running;
    });
    const series = { source: 'device', metric: 'load' };
    await client.xAdd(config.keys.streamKey, '*', encodeEvent(telemetryEvent('device', 1, T0)));
    await eventually(
      async () => (await context.store.range(series, { fromMs: T0, toMs: T0 + 10, limit: 10 })).length === 1,
      5_000,
      'first event',
    );

    proxy.swallowOpenConnections();
    // Redis answers the read in flight with this one, and the answer is lost: only a reclaim finds it.
    await client.xAdd(config.keys.streamKey, '*', encodeEvent(telemetryEvent('device', 2, T0 + 1)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Never delivered while the worker waits for that answer: only a read on a new connection gets it.
    await client.xAdd(config.keys.streamKey, '*', encodeEvent(telemetryEvent('device', 3, T0 + 2)));
    await eventually(
      async () => (await context.store.range(series, { fromMs: T0, toMs: T0 + 10, limit: 10 })).length === 3,
      READ_GRACE_MS + 5_000,
      'the events sent after the connection went silent',
    );
    // The batch is acked after its samples are stored, so the ack may trail the read above.
    await eventually(
      async () => {
        const [group] = await client.xInfoGroups(config.keys.streamKey);
        return group?.lag === 0 && group.pending === 0;
      },
      5_000,
      'every entry acked',
    );
  }, 20_000);
});
