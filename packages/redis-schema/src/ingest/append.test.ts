import { createClient } from '@redis/client';
import { isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { createKeys } from '../keys';
import type { RedisClient } from '../redis-client';
import { eventFields } from '../stream-entry';
import { REPLY_WITHOUT_IDS, REPLY_WITH_IDS, appendArguments, appendToPartitions } from './append';

const keys = createKeys({ streamKey: 'events', deadLetterKey: 'dl', metricsKey: 'metrics', seriesPrefix: 'series' });
const options = { consumerGroup: 'workers', maxBacklog: 1_000, idempotencyWindowMs: 60_000 };

describe('appendArguments', () => {
  it('declares an idempotency key only for events with an id, in their order', () => {
    const events = [
      { source: 'a', metric: 'm', value: 1.5, occurredAt: '2026-01-01T00:00:00.000Z' },
      { source: 'b', metric: 'm', value: -2, occurredAt: '2026-01-01T00:00:01.000Z', eventId: 'e-1' },
    ];
    expect(appendArguments(keys, events, options, true)).toEqual({
      keys: ['events', 'events:idempotency:e-1'],
      args: [
        'workers',
        '1000',
        '60000',
        '1',
        'a m 1.5 2026-01-01T00:00:00.000Z',
        '',
        'b m -2 2026-01-01T00:00:01.000Z e-1',
        'e-1',
      ],
    });
  });

  it('asks for the ids only when told to', () => {
    expect(appendArguments(keys, [], options, false).args).toEqual(['workers', '1000', '60000', '0']);
  });
});

describe('appendToPartitions against a live Redis', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  beforeAll(() => client.connect());
  afterAll(() => client.destroy());

  const event = (i: number, eventId?: string) => ({
    source: `device-${i}`,
    metric: 'temp',
    value: i,
    occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
    ...(eventId === undefined ? {} : { eventId }),
  });

  it('without ids, marks exactly the duplicates by position and writes every other event once', async () => {
    const partitioned = createKeys(isolatedConfig(testRedisUrl()).keys);
    const first = await appendToPartitions(
      client,
      partitioned,
      [event(0, 'e-0'), event(1, 'e-1')],
      options,
      REPLY_WITH_IDS,
    );
    const again = [event(2), event(1, 'e-1'), event(3, 'e-3'), event(0, 'e-0')];
    expect(await appendToPartitions(client, partitioned, again, options, REPLY_WITHOUT_IDS)).toEqual([
      { duplicate: false },
      { duplicate: true },
      { duplicate: false },
      { duplicate: true },
    ]);
    const entries = await client.xRange(partitioned.stream, '-', '+');
    expect(entries.map(({ message }) => eventFields(message).source)).toEqual([
      'device-0',
      'device-1',
      'device-2',
      'device-3',
    ]);
    expect(entries.slice(0, 2).map(({ id }) => id)).toEqual(first.map(({ id }) => id));
  });

  it('with ids, answers the first entry of a duplicate as its id, also within one batch', async () => {
    const partitioned = createKeys(isolatedConfig(testRedisUrl()).keys);
    const [written] = await appendToPartitions(client, partitioned, [event(0, 'e-0')], options, REPLY_WITH_IDS);
    const [repeated, fresh, firstOfPair, secondOfPair] = await appendToPartitions(
      client,
      partitioned,
      [event(0, 'e-0'), event(1), event(2, 'e-2'), event(3, 'e-2')],
      options,
      REPLY_WITH_IDS,
    );
    expect(repeated).toEqual({ id: written!.id, duplicate: true });
    expect(fresh!.duplicate).toBe(false);
    expect(firstOfPair!.duplicate).toBe(false);
    expect(secondOfPair).toEqual({ id: firstOfPair!.id, duplicate: true });
    const entries = await client.xRange(partitioned.stream, '-', '+');
    expect(entries.map(({ message }) => [eventFields(message).source, eventFields(message).eventId])).toEqual([
      ['device-0', 'e-0'],
      ['device-1', undefined],
      ['device-2', 'e-2'],
    ]);
  });
});
