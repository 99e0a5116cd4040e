import { createClient } from '@redis/client';
import { eventFields } from '@redis-ingest/redis-schema';
import { isolatedEnv, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { lineProtocolBodies, postLines } from './line-protocol';
import { runClosedLoop } from './load';
import { ProcessRegistry } from './processes';
import { startIngestApi } from './services';
import { batchBodies, type Fleet } from './workload';

const fleet: Fleet = { devices: 7, invalidShare: 0.1, baseMs: Date.parse('2026-03-01T10:00:00Z') };

describe('line-protocol load', () => {
  it('writes the readings of the JSON workload, with its invalid share as string fields', () => {
    const [lines] = lineProtocolBodies(fleet, 10, 1);
    const [json] = batchBodies(fleet, 10, 1);
    const events = JSON.parse(json!) as { source: string; metric: string; value: unknown; occurredAt: string }[];
    expect(lines!.split('\n')).toEqual(
      events.map(
        ({ source, metric, value, occurredAt }) =>
          `${metric},source=${source} ${typeof value === 'number' ? `value=${value}` : 'value="unreadable"'} ${Date.parse(occurredAt)}`,
      ),
    );
    expect(lines).toContain('value="unreadable"');
  });

  describe('against a running ingest-api', () => {
    let redisServer: RedisServer;
    const registry = new ProcessRegistry();
    afterAll(async () => {
      await registry.stopAll();
      await redisServer?.stop();
    });

    it('counts the events a partial write appended and what the stream holds', async () => {
      redisServer = await startRedisServer();
      const env = isolatedEnv(redisServer.url);
      const { origin } = await startIngestApi(registry, env, 1);
      const result = await runClosedLoop({
        origin,
        connections: 2,
        durationMs: 1_500,
        warmupMs: 0,
        bodies: lineProtocolBodies(fleet, 50, 4),
        post: postLines,
      });
      expect(result.failedRequests).toBe(0);
      expect(result.refusedRequests).toBe(0);
      expect(result.eventsPerSecond).toBeGreaterThan(0);
      const redis = createClient({ url: redisServer.url });
      await redis.connect();
      try {
        const entries = await redis.xRange(env.INGEST_STREAM_KEY!, '-', '+', { COUNT: 1 });
        expect(eventFields(entries[0]!.message)).toEqual({
          source: 'device-0',
          metric: 'temperature',
          value: '0',
          occurredAt: '2026-03-01T10:00:00.000Z',
        });
        // Requests still in flight when the window closes are appended but not counted.
        expect(await redis.xLen(env.INGEST_STREAM_KEY!)).toBeGreaterThanOrEqual(
          Math.floor(result.eventsPerSecond * 1.5),
        );
      } finally {
        redis.destroy();
      }
    });
  });
});
