import { createClient } from '@redis/client';
import {
  createRedisClient,
  leaveGroup,
  removeIdleConsumers,
  trimStream,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import { eventually, isolatedConfig, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { ensureConsumerGroup } from './stream-reads';

const logger = createLogger('maintenance-test', 'silent');

describe('stream maintenance', () => {
  let server: RedisServer;
  let redis: ReturnType<typeof createClient>;
  let client: RedisClient;
  let stream: string;
  let group: string;

  beforeAll(async () => {
    // Nodes of two entries: [1 2] [3 4] ..., so that `MINID ~`, which removes whole nodes, trims predictably.
    server = await startRedisServer({ args: ['--stream-node-max-entries', '2'] });
    redis = createClient({ url: server.url });
    client = createRedisClient(server.url, { name: 'maintenance-test', logger });
    await Promise.all([redis.connect(), client.connect()]);
  });
  afterAll(async () => {
    redis.destroy();
    client.destroy();
    await server.stop();
  });
  beforeEach(async () => {
    const config = isolatedConfig(server.url);
    stream = config.keys.streamKey;
    group = config.consumerGroup;
    await ensureConsumerGroup(client, stream, group);
  });

  /** Entries with explicit ids `<ms>-0`, so their age is known exactly. */
  const addAt = async (...ms: number[]) => {
    for (const one of ms) await redis.xAdd(stream, `${one}-0`, { n: String(one) });
  };
  const read = (consumer: string, count: number) =>
    redis.sendCommand(['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), 'STREAMS', stream, '>']);
  const ids = async () => (await redis.xRange(stream, '-', '+')).map(({ id }) => id);

  const retention = (retainProcessedCount: number, retainProcessedMs: number) => ({
    stream,
    group,
    retainProcessedCount,
    retainProcessedMs,
  });

  it('trims nothing while the group has not finished with the oldest entry', async () => {
    await addAt(1, 2, 3, 4, 5, 6, 7, 8);
    await read('a', 8);
    expect(await trimStream(client, retention(0, 0))).toEqual({ removed: 0, minId: undefined });
    expect(await ids()).toHaveLength(8);
  });

  it('trims below the oldest pending entry and the first undelivered one, whichever is lower', async () => {
    await addAt(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    await read('a', 8);
    await redis.xAck(stream, group, ['1-0', '2-0', '3-0', '4-0', '5-0', '7-0', '8-0']);
    // 6-0 is pending; 9-0 was never delivered.
    expect(await trimStream(client, retention(0, 0))).toEqual({ removed: 4, minId: '6-0' });
    expect(await ids()).toEqual(['5-0', '6-0', '7-0', '8-0', '9-0', '10-0']);

    await redis.xAck(stream, group, ['6-0']);
    expect(await trimStream(client, retention(0, 0))).toEqual({ removed: 4, minId: '9-0' });
    expect(await ids()).toEqual(['9-0', '10-0']);
  });

  it('keeps the newest processed entries by count, and by age by the server clock', async () => {
    await addAt(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    await read('a', 10);
    await redis.xAck(stream, group, ['1-0', '2-0', '3-0', '4-0', '5-0', '6-0', '7-0', '8-0', '9-0', '10-0']);
    expect(await trimStream(client, retention(20, 0))).toEqual({ removed: 0, minId: undefined });
    expect(await trimStream(client, retention(0, Date.now()))).toEqual({ removed: 0, minId: undefined });

    expect(await trimStream(client, retention(4, 0))).toEqual({ removed: 6, minId: '7-0' });
    expect(await ids()).toEqual(['7-0', '8-0', '9-0', '10-0']);
  });

  it('trims nothing on a stream without the group or without entries', async () => {
    expect(await trimStream(client, retention(0, 0))).toEqual({ removed: 0, minId: undefined });
    await addAt(1, 2);
    await redis.sendCommand(['XGROUP', 'DESTROY', stream, group]);
    expect(await trimStream(client, retention(0, 0))).toEqual({ removed: 0, minId: undefined });
    expect(await ids()).toEqual(['1-0', '2-0']);
  });

  it('removes consumers idle too long without pending entries, never the caller or one holding entries', async () => {
    await addAt(1, 2);
    await read('holder', 1);
    await read('finished', 1);
    await redis.xAck(stream, group, ['2-0']);
    await redis.sendCommand(['XGROUP', 'CREATECONSUMER', stream, group, 'self']);
    const idleMs = 150;
    const consumers = () => redis.xInfoConsumers(stream, group);
    await eventually(
      async () => (await consumers()).every(({ idle }) => idle > 2 * idleMs),
      5_000,
      'every consumer idle',
    );
    await redis.sendCommand(['XGROUP', 'CREATECONSUMER', stream, group, 'fresh']);

    // Far above the time between creating 'fresh' and the removal, even on a busy machine.
    const removed = await removeIdleConsumers(client, { stream, group, idleMs, self: 'self' });

    expect(removed).toEqual(['finished']);
    const left = (await redis.xInfoConsumers(stream, group)).map(({ name }) => name).sort();
    expect(left).toEqual(['fresh', 'holder', 'self']);
  });

  it('lets a consumer leave the group only while it holds no pending entries', async () => {
    await addAt(1, 2);
    await read('holder', 1);
    await read('finished', 1);
    await redis.xAck(stream, group, ['2-0']);
    const names = async () => (await redis.xInfoConsumers(stream, group)).map(({ name }) => name).sort();

    expect(await leaveGroup(client, stream, group, 'finished')).toBe(true);
    expect(await leaveGroup(client, stream, group, 'holder')).toBe(false);
    expect(await names()).toEqual(['holder']);
    expect((await redis.xPending(stream, group)).pending).toBe(1);
    expect(await leaveGroup(client, stream, group, 'never-read')).toBe(true);
    expect(await leaveGroup(client, stream, 'no-such-group', 'holder')).toBe(false);
  });
});
