import { createClient } from '@redis/client';
import { isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { createKeys } from './keys';
import { parseGroupsReply, readQueueStats } from './queue-stats';
import type { RedisClient } from './redis';

describe('readQueueStats against a live Redis', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  beforeAll(() => client.connect());
  afterAll(() => client.destroy());

  it('reports zeros before the stream or group exist, then length, lag and pending', async () => {
    const config = isolatedConfig(testRedisUrl());
    const keys = createKeys(config.keys);
    expect(await readQueueStats(client, keys, config.consumerGroup)).toEqual({ total: 0, pending: 0, dead_lettered: 0, lag: 0, consumers: 0 });

    for (let i = 0; i < 5; i++) await client.xAdd(keys.stream, '*', { n: String(i) });
    await client.xGroupCreate(keys.stream, config.consumerGroup, '0');
    await client.xReadGroup(config.consumerGroup, 'c1', { key: keys.stream, id: '>' }, { COUNT: 2 });
    await client.xAdd(keys.deadLetter, '*', { n: 'x' });
    expect(await readQueueStats(client, keys, config.consumerGroup)).toEqual({ total: 5, pending: 2, dead_lettered: 1, lag: 3, consumers: 1 });
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
