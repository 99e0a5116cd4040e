/**
 * Renders the dashboard over a few hours of made-up telemetry and saves a PNG:
 *   pnpm build && node apps/query-api/dist/dashboard/screenshot.js [docs/dashboard.png]
 * Runs on a private redis-server, so it never touches a real pipeline's data.
 */
import { resolve } from 'node:path';
import { createRedisClient, createRollupStore, deadLetterFields, type Sample } from '@redis-ingest/redis-schema';
import { startRedisServer } from '@redis-ingest/test-utils';
import { loadQueryConfig } from '../config';
import { start } from '../server';
import { openHeadlessPage } from './browser';

const HOURS = 6;
const SAMPLE_EVERY_MS = 15_000;
const LIVE_EVENTS_PER_TICK = 12;
const LIVE_TICK_MS = 100;

/** A small seeded generator, so every run draws the same picture. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

const SERIES: { metric: string; sources: string[]; level: number; swing: number; noise: number }[] = [
  {
    metric: 'cpu.usage',
    sources: ['web-01', 'web-02', 'web-03', 'web-04', 'db-01', 'db-02'],
    level: 42,
    swing: 18,
    noise: 3.5,
  },
  {
    metric: 'mem.used_pct',
    sources: ['web-01', 'web-02', 'web-03', 'web-04', 'db-01', 'db-02'],
    level: 61,
    swing: 6,
    noise: 1.5,
  },
  { metric: 'http.latency_ms', sources: ['edge-eu', 'edge-us', 'edge-ap'], level: 120, swing: 40, noise: 25 },
  { metric: 'temperature', sources: ['rack-a', 'rack-b', 'rack-c', 'rack-d'], level: 24, swing: 2.5, noise: 0.4 },
];

function telemetry(nowMs: number): Sample[] {
  const next = random(7);
  const samples: Sample[] = [];
  const count = (HOURS * 3_600_000) / SAMPLE_EVERY_MS;
  for (const { metric, sources, level, swing, noise } of SERIES) {
    sources.forEach((source, s) => {
      const phase = s * 0.9;
      for (let i = 0; i < count; i++) {
        const timestampMs = nowMs - (count - i) * SAMPLE_EVERY_MS;
        const hours = (i * SAMPLE_EVERY_MS) / 3_600_000;
        const spike = next() < 0.0015 ? swing * 1.5 : 0;
        const value = level + swing * Math.sin(hours * 1.3 + phase) + noise * (next() - 0.5) * 2 + spike;
        samples.push({ metric, source, timestampMs, value: Math.round(value * 100) / 100 });
      }
    });
  }
  return samples;
}

async function main(): Promise<void> {
  const output = resolve(process.argv[2] ?? 'docs/dashboard.png');
  const redisServer = await startRedisServer();
  const config = loadQueryConfig({
    REDIS_URL: redisServer.url,
    QUERY_API_PORT: '0',
    QUERY_API_HOST: '127.0.0.1',
    INGEST_ROLLUP_BACKEND: 'native',
    INGEST_ROLLUPS: '1m:avg,1m:max,1h:avg',
    LOG_LEVEL: 'silent',
  });
  const redis = createRedisClient(config.redis, { name: 'dashboard-screenshot', logger: console });
  await redis.connect();
  const api = await start(config);
  const browser = await openHeadlessPage({ width: 1440, height: 720 });
  let feeding: NodeJS.Timeout | undefined;
  try {
    const store = await createRollupStore(redis, config);
    const samples = telemetry(Date.now());
    for (let i = 0; i < samples.length; i += 5_000) await store.addSamples(samples.slice(i, i + 5_000));

    const { streamKey, deadLetterKey } = config.keys;
    const addEvents = (count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          redis.xAdd(streamKey, '*', {
            source: 'web-01',
            metric: 'cpu.usage',
            value: String(i % 100),
            occurredAt: new Date().toISOString(),
          }),
        ),
      );
    const ids = await addEvents(2_400);
    await redis.xGroupCreate(streamKey, config.consumerGroup, '0');
    for (const consumer of ['worker-1', 'worker-2', 'worker-3']) {
      const [reply] =
        (await redis.xReadGroup(config.consumerGroup, consumer, { key: streamKey, id: '>' }, { COUNT: 760 })) ?? [];
      const delivered = reply?.messages.map(({ id }) => id) ?? [];
      await redis.xAck(streamKey, config.consumerGroup, delivered.slice(0, -14));
    }
    for (const id of ids.slice(0, 7)) {
      const failure = {
        messageId: id,
        reason: 'value: Expected number',
        failedAt: new Date().toISOString(),
        consumer: 'worker-2',
      };
      await redis.xAdd(
        deadLetterKey,
        '*',
        deadLetterFields(failure, { source: 'web-02', metric: 'cpu.usage', value: 'n/a' }, []),
      );
    }
    // A steady trickle, so two polls see the stream grow and the page shows a rate.
    feeding = setInterval(() => void addEvents(LIVE_EVENTS_PER_TICK), LIVE_TICK_MS);

    const { page } = browser;
    await page.goto(`http://127.0.0.1:${api.port}/?refresh=1000`);
    await page.waitForSelector('#series-list button');
    await page.fill('#search-metric', 'cpu.usage');
    await page.waitForSelector('#series-list[data-query="metricPrefix=cpu.usage"]');
    await page.click('#series-list button[data-source="web-02"]');
    await page.click('#ranges button[data-range="21600000"]');
    await page.waitForSelector('#chart[data-selection="series:cpu.usage/web-02"]');
    await page.waitForSelector('#queue-rate[data-value]:not([data-value=""])');
    // Hover the chart so the legend shows values, as a person looking at it would.
    const box = (await page.locator('#chart .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.72, box.y + box.height * 0.5);
    await page.screenshot({ path: output, fullPage: true });
    console.log(`saved ${output}`);
  } finally {
    clearInterval(feeding);
    await browser.close();
    await api.stop();
    redis.destroy();
    await redisServer.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
