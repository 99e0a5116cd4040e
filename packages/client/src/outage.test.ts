import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { IngestClient } from './index.ts';
import { eventIdsInStream, occurrences, startIngestApi, type IngestApiUnderTest } from './test-support/ingest-api.ts';

const TOTAL = 100_000;

describe('IngestClient while Redis goes away', () => {
  let server: RedisServer;
  let under: IngestApiUnderTest;

  beforeAll(async () => {
    // Every write the ingest-api acknowledged must survive the kill: an append-only file synced on each write.
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    under = await startIngestApi(server.url, { INGEST_REDIS_TIMEOUT_MS: '500', INGEST_MAX_BATCH: '1000' });
  });
  afterAll(async () => {
    await under?.stop();
    await server?.stop();
  });

  it(`puts each of ${TOTAL.toLocaleString('en')} events in the stream exactly once across a Redis kill and restart`, async () => {
    const client = new IngestClient({
      url: under.url,
      maxBatchEvents: 1000,
      flushIntervalMs: 20,
      retry: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    let failuresDuringOutage = 0;
    let acceptedBeforeRestart = 0;
    let outage: Promise<void> | undefined;
    let restarted: () => void = () => undefined;
    const failing = new Promise<void>((resolve) => (restarted = resolve));
    client.on('error', () => {
      if (outage && ++failuresDuringOutage === 5) restarted();
    });
    client.on('accepted', () => {
      if (outage || client.metrics().accepted < TOTAL / 3) return;
      outage = (async () => {
        await server.kill();
        // Down until the client has felt it several times, then back with what it persisted.
        await failing;
        acceptedBeforeRestart = client.metrics().accepted;
        await server.restart();
      })();
    });

    function* generate() {
      for (let n = 0; n < TOTAL; n++) yield { source: `device-${n % 50}`, metric: 'load', value: n };
    }
    await client.sendAll(generate());
    await client.close();
    await outage;

    expect(failuresDuringOutage).toBeGreaterThanOrEqual(5);
    expect(acceptedBeforeRestart).toBeLessThan(TOTAL);
    expect(client.metrics()).toMatchObject({ accepted: TOTAL, rejected: 0, buffered: 0 });
    const ids = await eventIdsInStream(under);
    expect(ids).toHaveLength(TOTAL);
    expect(occurrences(ids).size).toBe(TOTAL);
  }, 180_000);
});
