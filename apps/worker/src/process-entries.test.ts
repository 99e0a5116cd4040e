import { createClient } from '@redis/client';
import {
  createRedisClient,
  deadLetterFields,
  encodeEvent,
  entryFields,
  packedEntry,
  parseDeadLetter,
  replayFields,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import { isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { MAX_DELIVERIES_REASON, drainShares, processEntries, type ProcessingContext } from './process-entries';
import { prepareProcessing } from './service';
import { parseGroupReadReply, type StreamEntry } from './stream-reads';

const logger = createLogger('process-entries-test', 'silent');
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const eventAt = (source: string, value: number, timestampMs: number) => ({
  source,
  metric: 'm',
  value,
  occurredAt: new Date(timestampMs).toISOString(),
});
/** The entry the ingest-api writes. */
const event = (source: string, value: number, timestampMs: number) => packedEntry(eventAt(source, value, timestampMs));
/** A dead letter's payload: the event's fields. */
const payloadOf = (source: string, value: number, timestampMs: number) =>
  encodeEvent(eventAt(source, value, timestampMs));

describe('drainShares', () => {
  it('splits the count evenly, the remainder going to the first partitions', () => {
    expect(drainShares(100, 1)).toEqual([100]);
    expect(drainShares(100, 3)).toEqual([34, 33, 33]);
    expect(drainShares(2, 3)).toEqual([1, 1, 0]);
  });
});

describe('processEntries against a live Redis', () => {
  const redis = createClient({ url: testRedisUrl() });
  let client: RedisClient;
  let config: WorkerConfig;
  let context: ProcessingContext;

  beforeAll(async () => {
    client = createRedisClient(testRedisUrl(), { name: 'process-entries-test', logger });
    await Promise.all([redis.connect(), client.connect()]);
  });
  afterAll(() => {
    redis.destroy();
    client.destroy();
  });
  beforeEach(async () => {
    config = loadWorkerConfig(
      isolatedEnv(testRedisUrl(), { INGEST_MAX_DELIVERIES: '3', INGEST_DEAD_LETTER_MAXLEN: '10' }),
    );
    context = await prepareProcessing(client, config, logger);
  });

  const stream = () => config.keys.streamKey;
  const group = () => config.consumerGroup;
  const xadd = (fields: Record<string, string>) => redis.xAdd(stream(), '*', fields);
  const readAs = async (consumer: string): Promise<StreamEntry[]> =>
    parseGroupReadReply(
      await redis.sendCommand(['XREADGROUP', 'GROUP', group(), consumer, 'COUNT', '100', 'STREAMS', stream(), '>']),
    );
  const pendingIds = async () =>
    ((await redis.sendCommand(['XPENDING', stream(), group(), '-', '+', '100'])) as [string, ...unknown[]][]).map(
      ([id]) => id,
    );
  const deadLetters = async () =>
    (await redis.xRange(config.keys.deadLetterKey, '-', '+')).map(({ id, message }) => parseDeadLetter(id, message));
  const points = (source: string) =>
    context.store.range({ source, metric: 'm' }, { fromMs: 0, toMs: T0 + 60_000, limit: 100 });

  it('dead-letters an entry delivered more than the limit without trying it, and acks it', async () => {
    const id = await xadd(event('s', 1, T0));
    const [entry] = await readAs('c');

    expect(await processEntries(context, 'c', context.keys.partitions[0]!, [{ ...entry!, deliveryCount: 4 }])).toEqual({
      read: 1,
      processed: 0,
      deadLettered: 1,
      acked: 1,
    });

    const [letter] = await deadLetters();
    expect(letter).toMatchObject({
      messageId: id,
      reason: MAX_DELIVERIES_REASON,
      payload: entryFields(entry!.pairs),
      history: [],
    });
    expect(await points('s')).toEqual([]);
    expect(await pendingIds()).toEqual([]);
  });

  it('still tries an entry delivered exactly the limit', async () => {
    await xadd(event('s', 1, T0));
    const [entry] = await readAs('c');
    expect(
      await processEntries(context, 'c', context.keys.partitions[0]!, [{ ...entry!, deliveryCount: 3 }]),
    ).toMatchObject({ processed: 1, deadLettered: 0 });
  });

  it('stores the batch-mates of an entry the store refuses outright, and leaves only that one pending', async () => {
    const culpritSeries = { source: 'broken', metric: 'm' };
    await redis.set(context.keys.raw(culpritSeries), 'not a series');
    await xadd(event('ok-1', 1, T0));
    const culpritId = await xadd(event('broken', 2, T0));
    await xadd(event('ok-2', 3, T0));

    const outcome = await processEntries(context, 'c', context.keys.partitions[0]!, await readAs('c'));

    expect(outcome).toEqual({ read: 3, processed: 2, deadLettered: 0, acked: 2 });
    expect(await pendingIds()).toEqual([culpritId]);
    expect(await points('ok-1')).toEqual([{ timestampMs: T0, value: 1 }]);
    expect(await points('ok-2')).toEqual([{ timestampMs: T0, value: 3 }]);
  });

  it('dead-letters an entry once when two consumers process it, as after a crash between dead letter and ack', async () => {
    await xadd({ source: 's' });
    const entries = await readAs('first');

    const [one, two] = await Promise.all([
      processEntries(context, 'first', context.keys.partitions[0]!, entries),
      processEntries(context, 'second', context.keys.partitions[0]!, entries),
    ]);

    expect(one.deadLettered + two.deadLettered).toBe(1);
    expect(one.acked + two.acked).toBe(1);
    expect(await deadLetters()).toHaveLength(1);
    expect(await pendingIds()).toEqual([]);
  });

  it('splits a replay history off before validating, and dead-letters a second failure with both failures', async () => {
    const first = {
      messageId: '1-0',
      reason: '/value: Expected number',
      failedAt: '2026-03-01T10:00:00.000Z',
      consumer: 'w0',
    };
    const payload = { ...payloadOf('s', 0, T0), value: 'hot' };
    const replayed = replayFields(parseDeadLetter('9-0', deadLetterFields(first, payload, [])));
    const id = await xadd(replayed);
    // A payload kept in the packed shape is read as the event it packs.
    await xadd(replayFields(parseDeadLetter('9-1', deadLetterFields(first, event('s', 5, T0), []))));

    const outcome = await processEntries(context, 'c', context.keys.partitions[0]!, await readAs('c'));

    expect(outcome).toEqual({ read: 2, processed: 1, deadLettered: 1, acked: 2 });
    expect(await points('s')).toEqual([{ timestampMs: T0, value: 5 }]);
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({ messageId: id, payload, history: [first], consumer: 'c' });
    expect(letter!.reason).toMatch(/^\/value: /);
  });

  it('caps the dead-letter stream near its configured length', async () => {
    for (let i = 0; i < 300; i++) await xadd({ source: 's', n: String(i) });
    await processEntries(context, 'c', context.keys.partitions[0]!, await readAs('c'));
    const length = await redis.xLen(config.keys.deadLetterKey);
    expect(length).toBeLessThan(300);
    expect(length).toBeGreaterThanOrEqual(10);
  });
});
