import { createClient } from '@redis/client';
import { eventually, isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { createKeys } from './keys';
import { countLiveConsumers, parseGroupsReply, readPartitionQueueStats, readQueueStats } from './queue-stats';
import type { RedisClient } from './redis-client';

describe('readQueueStats against a live Redis', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  beforeAll(() => client.connect());
  afterAll(() => client.destroy());

  it('reports zeros before the stream or group exist, then length, lag and pending', async () => {
    const config = isolatedConfig(testRedisUrl());
    const keys = createKeys(config.keys);
    expect(await readQueueStats(client, keys, config.consumerGroup)).toEqual({
      total: 0,
      pending: 0,
      dead_lettered: 0,
      lag: 0,
      consumers: 0,
    });

    for (let i = 0; i < 5; i++) await client.xAdd(keys.stream, '*', { n: String(i) });
    await client.xGroupCreate(keys.stream, config.consumerGroup, '0');
    await client.xReadGroup(config.consumerGroup, 'c1', { key: keys.stream, id: '>' }, { COUNT: 2 });
    await client.xAdd(keys.deadLetter, '*', { n: 'x' });
    expect(await readQueueStats(client, keys, config.consumerGroup)).toEqual({
      total: 5,
      pending: 2,
      dead_lettered: 1,
      lag: 3,
      consumers: 1,
    });
  });

  it('counts only the consumers that read within the live bound, not those left behind', async () => {
    const config = isolatedConfig(testRedisUrl());
    const [partition] = createKeys(config.keys).partitions;
    const { stream } = partition!;
    const group = config.consumerGroup;
    await client.xAdd(stream, '*', { n: '1' });
    await client.xGroupCreate(stream, group, '0');
    for (const consumer of ['gone-1', 'gone-2', 'live'])
      await client.xReadGroup(group, consumer, { key: stream, id: '>' });
    const liveIdleMs = 1_000;
    await eventually(
      async () => (await client.xInfoConsumers(stream, group)).every(({ idle }) => idle > liveIdleMs),
      10_000,
      'consumers idle',
    );

    // Redis 7.2 and later tell a read that found nothing apart (and list a consumer that only made
    // such reads); before, every listed consumer counts.
    const listed = async () => (await client.xInfoConsumers(stream, group)).length;
    const tellsReads = (await client.xInfoConsumers(stream, group))[0]!.inactive !== undefined;
    expect(await readPartitionQueueStats(client, partition!, group, liveIdleMs)).toMatchObject({
      consumers: tellsReads ? 0 : await listed(),
    });

    await client.xReadGroup(group, 'live', { key: stream, id: '>' });
    expect(await readPartitionQueueStats(client, partition!, group, liveIdleMs)).toMatchObject({
      consumers: tellsReads ? 1 : await listed(),
    });
    // Well within the default bound, every consumer counts.
    expect(await readPartitionQueueStats(client, partition!, group)).toMatchObject({ consumers: await listed() });
  });
});

describe('countLiveConsumers', () => {
  it('counts consumers idle less than the bound where Redis tells reads apart, and every consumer where it does not', () => {
    expect(
      countLiveConsumers(
        [
          { idle: 10, inactive: 5_000 },
          { idle: 59_999, inactive: 70_000 },
          { idle: 60_000, inactive: 60_000 },
        ],
        60_000,
      ),
    ).toBe(2);
    expect(countLiveConsumers([{ idle: 10 }, { idle: 3_600_000 }], 60_000)).toBe(2);
    expect(countLiveConsumers([], 60_000)).toBe(0);
  });
});

describe('parseGroupsReply', () => {
  it('reads each group from its flat field list', () => {
    const reply = [
      ['name', 'workers', 'consumers', 2, 'pending', 3, 'last-delivered-id', '5-0', 'entries-read', 4, 'lag', 1],
      ['name', 'audit', 'consumers', 0, 'pending', 0, 'last-delivered-id', '2-0', 'entries-read', null, 'lag', null],
    ];
    expect(parseGroupsReply(reply)).toEqual([
      { name: 'workers', consumers: 2, pending: 3, lastDeliveredId: '5-0', lag: 1 },
      { name: 'audit', consumers: 0, pending: 0, lastDeliveredId: '2-0', lag: null },
    ]);
  });

  it('reports an unknown lag for servers before Redis 7, which do not send it', () => {
    const [group] = parseGroupsReply([['name', 'g', 'consumers', 1, 'pending', 0, 'last-delivered-id', '0-0']]);
    expect(group?.lag).toBeNull();
  });
});
