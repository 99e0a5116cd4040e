import { createClient } from '@redis/client';
import { eventually, testRedisUrl } from '@redis-ingest/test-utils';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis-client';
import { chargeRateLimit, rateLimitArguments } from './rate-limit';

describe('rateLimitArguments', () => {
  it('passes the emission interval in microseconds, the burst, then one cost per bucket', () => {
    expect(
      rateLimitArguments(
        [
          { key: 'a', cost: 3 },
          { key: 'b', cost: 1 },
        ],
        { eventsPerSecond: 4, burst: 10 },
      ),
    ).toEqual({
      keys: ['a', 'b'],
      args: ['250000', '10', '3', '1'],
    });
    expect(rateLimitArguments([{ key: 'a', cost: 1 }], { eventsPerSecond: 3, burst: 1 }).args[0]).toBe(
      String(1_000_000 / 3),
    );
  });
});

describe('chargeRateLimit against a live Redis', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  const prefix = `test:${randomBytes(6).toString('hex')}:rate`;
  // Slow enough that the few milliseconds a test takes refill nothing measurable.
  const limit = { eventsPerSecond: 1, burst: 5 };

  beforeAll(() => client.connect());
  afterAll(() => client.destroy());

  it('admits the burst at once, then refuses with the time until one event is admitted again', async () => {
    const key = `${prefix}:burst`;
    expect(await chargeRateLimit(client, [{ key, cost: 3 }], limit)).toBe(0);
    expect(await chargeRateLimit(client, [{ key, cost: 2 }], limit)).toBe(0);
    const wait = await chargeRateLimit(client, [{ key, cost: 1 }], limit);
    expect(wait).toBeGreaterThan(900);
    expect(wait).toBeLessThanOrEqual(1_000);
    // Two events need two emission intervals.
    expect(await chargeRateLimit(client, [{ key, cost: 2 }], limit)).toBeGreaterThan(1_900);
  });

  it('charges nothing when any bucket refuses', async () => {
    const full = `${prefix}:full`;
    const idle = `${prefix}:idle`;
    expect(await chargeRateLimit(client, [{ key: full, cost: 5 }], limit)).toBe(0);
    expect(
      await chargeRateLimit(
        client,
        [
          { key: idle, cost: 5 },
          { key: full, cost: 1 },
        ],
        limit,
      ),
    ).toBeGreaterThan(0);
    expect(await client.exists(idle)).toBe(0);
    expect(await chargeRateLimit(client, [{ key: idle, cost: 5 }], limit)).toBe(0);
  });

  it('lets a bucket expire once it is idle again', async () => {
    const key = `${prefix}:ttl`;
    // Two events at one a second: the bucket is full again, and gone, two seconds later.
    expect(await chargeRateLimit(client, [{ key, cost: 2 }], { eventsPerSecond: 1, burst: 10 })).toBe(0);
    const ttl = await client.pTTL(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });

  it('refills at the configured rate', async () => {
    const key = `${prefix}:refill`;
    // One event every 200 ms: wide enough that a slow machine's next call still lands inside it.
    const fiveASecond = { eventsPerSecond: 5, burst: 1 };
    expect(await chargeRateLimit(client, [{ key, cost: 1 }], fiveASecond)).toBe(0);
    const waitMs = await chargeRateLimit(client, [{ key, cost: 1 }], fiveASecond);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(200);
    // A refused charge takes nothing from the bucket, so charging until one passes waits for the refill.
    await eventually(async () => (await chargeRateLimit(client, [{ key, cost: 1 }], fiveASecond)) === 0, 2_000);
  });
});
