import { createRedisClient } from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import { isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import {
  deliveryCountsArguments,
  ensureConsumerGroup,
  groupReadArguments,
  parseDeliveryCounts,
  parseGroupReadReply,
  parseReclaimReply,
  reclaimArguments,
  reclaimIdleEntries,
} from './stream-reads';

describe('groupReadArguments', () => {
  const read = { stream: 'events', group: 'workers', consumer: 'c-1', count: 50 };

  it('blocks only when told to', () => {
    expect(groupReadArguments({ ...read, blockMs: 2_000 })).toEqual([
      'XREADGROUP',
      'GROUP',
      'workers',
      'c-1',
      'COUNT',
      '50',
      'BLOCK',
      '2000',
      'STREAMS',
      'events',
      '>',
    ]);
    expect(groupReadArguments(read)).toEqual([
      'XREADGROUP',
      'GROUP',
      'workers',
      'c-1',
      'COUNT',
      '50',
      'STREAMS',
      'events',
      '>',
    ]);
  });
});

describe('parseGroupReadReply', () => {
  it('reads no entries from a timed-out read', () => {
    expect(parseGroupReadReply(null)).toEqual([]);
  });

  it("keeps each entry's field list as Redis gave it, and an empty one for an entry deleted while pending", () => {
    const reply = [
      [
        'events',
        [
          ['1-0', ['event', 's m 1 2026-03-01T10:00:00.000Z']],
          ['2-0', ['source', 's', 'value', '1']],
          ['3-0', null],
        ],
      ],
    ];
    expect(parseGroupReadReply(reply)).toEqual([
      { id: '1-0', pairs: ['event', 's m 1 2026-03-01T10:00:00.000Z'] },
      { id: '2-0', pairs: ['source', 's', 'value', '1'] },
      { id: '3-0', pairs: [] },
    ]);
  });
});

describe('reclaim arguments and replies', () => {
  it('claims from the cursor with the batch size', () => {
    expect(
      reclaimArguments({
        stream: 'events',
        group: 'workers',
        consumer: 'c-1',
        minIdleMs: 30_000,
        cursor: '5-1',
        count: 100,
      }),
    ).toEqual(['XAUTOCLAIM', 'events', 'workers', 'c-1', '30000', '5-1', 'COUNT', '100']);
  });

  it('reads the cursor, the claimed entries and the deleted ids', () => {
    expect(parseReclaimReply(['7-0', [['3-0', ['source', 's']]], ['2-0']])).toEqual({
      cursor: '7-0',
      entries: [{ id: '3-0', pairs: ['source', 's'] }],
      deleted: ['2-0'],
    });
  });

  it('asks XPENDING for exactly the claimed range of this consumer', () => {
    expect(deliveryCountsArguments('events', 'workers', 'c-1', ['3-0', '4-0', '9-2'])).toEqual([
      'XPENDING',
      'events',
      'workers',
      '3-0',
      '9-2',
      '3',
      'c-1',
    ]);
    expect(
      parseDeliveryCounts([
        ['3-0', 'c-1', 10, 2],
        ['9-2', 'c-1', 3, 6],
      ]),
    ).toEqual(
      new Map([
        ['3-0', 2],
        ['9-2', 6],
      ]),
    );
  });
});

describe('reads and reclaims against a live Redis', () => {
  const logger = createLogger('stream-reads-test', 'silent');
  const redis = createRedisClient(testRedisUrl(), { name: 'stream-reads-test', logger });
  let stream: string;
  let group: string;

  beforeAll(() => redis.connect());
  afterAll(() => redis.destroy());
  beforeEach(async () => {
    const config = isolatedConfig(testRedisUrl());
    stream = config.keys.streamKey;
    group = config.consumerGroup;
    await ensureConsumerGroup(redis, stream, group);
  });

  const reclaim = (cursor: string, count: number) =>
    reclaimIdleEntries(redis, { stream, group, consumer: 'heir', minIdleMs: 0, cursor, count });

  it('claims idle entries with their delivery counts, carries the cursor, and reports deleted ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await redis.xAdd(stream, '*', { n: String(i) }));
    await redis.sendCommand(['XREADGROUP', 'GROUP', group, 'gone', 'COUNT', '5', 'STREAMS', stream, '>']);
    await redis.xDel(stream, ids[1]!);

    const first = await reclaim('0-0', 2);
    expect(first.entries).toEqual([{ id: ids[0], pairs: ['n', '0'], deliveryCount: 2 }]);
    expect(first.deleted).toEqual([ids[1]]);
    expect(first.cursor).toBe(ids[2]);

    const second = await reclaim(first.cursor, 10);
    expect(second.entries.map(({ id, deliveryCount }) => [id, deliveryCount])).toEqual([
      [ids[2], 2],
      [ids[3], 2],
      [ids[4], 2],
    ]);
    expect(second.cursor).toBe('0-0');

    const again = await reclaim('0-0', 10);
    expect(again.entries.map(({ deliveryCount }) => deliveryCount)).toEqual([3, 3, 3, 3]);
  });
});
