/// <reference lib="dom" />
// Functions passed to page.evaluate run in the page, so they see the DOM.
import {
  createRedisClient,
  createRollupStore,
  deadLetterFields,
  type RedisClient,
  type Sample,
} from '@redis-ingest/redis-schema';
import { readFileSync } from 'node:fs';
import { isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import type { Page, Route } from 'playwright-core';
import { loadQueryConfig, type QueryConfig } from './config';
import { DASHBOARD_CSP } from './dashboard';
import { openHeadlessPage, type HeadlessPage } from './dashboard/browser';
import { start, type RunningQueryApi } from './server';

const READ_TOKEN = 'dashboard-read-token-0123456789';
const withToken = { headers: { authorization: `Bearer ${READ_TOKEN}` } };

/** The dashboard runs as deployed: its data routes need the read token. */
function dashboardConfig(overrides: Record<string, string>): QueryConfig {
  return loadQueryConfig(
    isolatedEnv(testRedisUrl(), {
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_ROLLUP_BACKEND: 'native',
      QUERY_READ_TOKEN: READ_TOKEN,
      ...overrides,
    }),
  );
}

async function connectedClient(config: QueryConfig): Promise<RedisClient> {
  const client = createRedisClient(config.redis, { name: 'dashboard-test', logger: { warn: () => undefined } });
  await client.connect();
  return client;
}

const SAMPLE_SPACING_MS = 30_000;
const CPU_S2_SAMPLES = 50;

interface ChartReading {
  range: { fromMs: number; toMs: number };
  labels: string[];
  counts: number[];
}

/** What the page's uPlot instance holds: each line's label and how many points it draws. */
const readChart = (page: Page): Promise<ChartReading> =>
  page.evaluate(() => {
    const { chart, range } = (window as any).dashboard;
    return {
      range,
      labels: chart.series.slice(1).map((series: { label: string }) => series.label),
      counts: chart.data
        .slice(1)
        .map((values: (number | null | undefined)[]) => values.filter((v) => v !== null && v !== undefined).length),
    };
  });

const listedSeries = (page: Page): Promise<string[]> =>
  page.$$eval('#series-list button', (buttons) =>
    buttons.map((b) => `${(b as HTMLElement).dataset.metric}/${(b as HTMLElement).dataset.source}`),
  );

describe('dashboard in a headless Chromium', () => {
  let redis: RedisClient;
  let config: QueryConfig;
  let api: RunningQueryApi;
  let browser: HeadlessPage;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];
  const getJson = async (path: string) => (await fetch(`${base}${path}`, withToken)).json() as Promise<any>;

  const addEvents = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push(
        await redis.xAdd(config.keys.streamKey, '*', {
          source: 's1',
          metric: 'cpu',
          value: String(i),
          occurredAt: new Date().toISOString(),
        }),
      );
    }
    return ids;
  };

  beforeAll(async () => {
    config = dashboardConfig({ INGEST_ROLLUPS: '1m:avg,1m:max' });
    redis = await connectedClient(config);

    const store = await createRollupStore(redis, config);
    const nowMs = Date.now();
    const at = (i: number) => nowMs - (CPU_S2_SAMPLES - i) * SAMPLE_SPACING_MS;
    const samples: Sample[] = [
      ...Array.from({ length: CPU_S2_SAMPLES }, (_, i) => ({
        metric: 'cpu',
        source: 's2',
        timestampMs: at(i),
        value: 40 + (i % 7),
      })),
      ...['s1', 's3', 's4', 's5'].flatMap((source, k) =>
        Array.from({ length: 10 }, (_, i) => ({ metric: 'cpu', source, timestampMs: at(i * 4), value: 10 * k + i })),
      ),
      ...['s1', 's2', 's3'].map((source) => ({ metric: 'mem', source, timestampMs: at(0), value: 512 })),
      { metric: 'disk', source: 's1', timestampMs: at(0), value: 0.5 },
    ];
    expect((await store.addSamples(samples)).every((result) => result.ok)).toBe(true);

    const { streamKey, deadLetterKey } = config.keys;
    const ids = await addEvents(12);
    await redis.xGroupCreate(streamKey, config.consumerGroup, '0');
    await redis.xReadGroup(config.consumerGroup, 'worker-1', { key: streamKey, id: '>' }, { COUNT: 5 });
    await redis.xReadGroup(config.consumerGroup, 'worker-2', { key: streamKey, id: '>' }, { COUNT: 3 });
    await redis.xAck(streamKey, config.consumerGroup, ids.slice(0, 2));
    for (const id of ids.slice(0, 3)) {
      const failure = {
        messageId: id,
        reason: 'value is not a number',
        failedAt: new Date().toISOString(),
        consumer: 'worker-1',
      };
      await redis.xAdd(
        deadLetterKey,
        '*',
        deadLetterFields(failure, { source: 's1', metric: 'cpu', value: 'NaN' }, []),
      );
    }

    api = await start(config);
    base = `http://127.0.0.1:${api.port}`;
    browser = await openHeadlessPage();
    page = browser.page;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    const response = await page.goto(`${base}/?refresh=300`);
    expect(response?.headers()['content-security-policy']).toBe(DASHBOARD_CSP);
    // Without a token the data routes answer 401, and the page asks for one.
    await page.waitForSelector('#token-form:not([hidden])');
    await page.waitForSelector('#status[data-state="error"]');
    await page.fill('#token', READ_TOKEN);
    await page.press('#token', 'Enter');
    await page.waitForSelector('#status[data-state="live"]');
    expect(await page.isHidden('#token-form')).toBe(true);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([READ_TOKEN]);
    // The browser reports each 401 the page was answered before it had the token.
    pageErrors.splice(0);
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    redis?.destroy();
  });

  it('shows the queue figures the API reports, and an ingest rate once events arrive', async () => {
    const { queue } = await getJson('/api/ingest/summary');
    expect(queue).toEqual({ total: 12, pending: 6, dead_lettered: 3, lag: 4, consumers: 2 });
    const shown = await page.$$eval('.queue .value[id]', (values) =>
      Object.fromEntries(values.map((v) => [v.id, { value: (v as HTMLElement).dataset.value, text: v.textContent }])),
    );
    const expected = {
      total: queue.total,
      pending: queue.pending,
      dead: queue.dead_lettered,
      lag: queue.lag,
      consumers: queue.consumers,
    };
    for (const [name, value] of Object.entries(expected)) {
      expect(shown[`queue-${name}`]).toEqual({ value: String(value), text: String(value) });
    }

    await addEvents(30);
    await page.waitForSelector('#queue-total[data-value="42"]');
    await page.waitForFunction(() => (window as any).dashboard.rate > 0);
    expect(Number(await page.getAttribute('#queue-rate', 'data-value'))).toBeGreaterThan(0);
  });

  it('shows Redis memory and its eviction policy, and marks a policy that may delete events', async () => {
    const redisState = await getJson('/api/ingest/redis');
    expect(redisState).toMatchObject({
      maxmemoryPolicy: 'noeviction',
      evictionRisk: 'none',
      usedMemoryBytes: expect.any(Number),
    });
    await page.waitForFunction(() => document.querySelector('#redis-policy')?.textContent === 'noeviction');
    expect(await page.$eval('#redis-memory', (memory) => memory.closest('.card')!.classList.contains('alert'))).toBe(
      false,
    );
  });

  it('narrows the series list by metric and by source prefixes through the server', async () => {
    const all = ['cpu/s1', 'cpu/s2', 'cpu/s3', 'cpu/s4', 'cpu/s5', 'disk/s1', 'mem/s1', 'mem/s2', 'mem/s3'];
    await page.waitForFunction(
      (count) => document.querySelectorAll('#series-list button').length === count,
      all.length,
    );
    expect(await listedSeries(page)).toEqual(all);

    await page.fill('#search-metric', 'cp');
    await page.waitForSelector('#series-list[data-query="metricPrefix=cp"]');
    expect(await listedSeries(page)).toEqual(['cpu/s1', 'cpu/s2', 'cpu/s3', 'cpu/s4', 'cpu/s5']);
    // No metric is named "cp": nothing to reduce across sources.
    expect(await page.isHidden('#metric-overview')).toBe(true);

    await page.fill('#search-source', 's4');
    // An empty list has no height: wait for the attribute, not for visibility.
    await page.waitForSelector('#series-list[data-query="metric=cp&sourcePrefix=s4"]', { state: 'attached' });
    expect(await listedSeries(page)).toEqual([]);
    await page.fill('#search-metric', 'cpu');
    await page.waitForSelector('#series-list[data-query="metric=cpu&sourcePrefix=s4"]');
    expect(await listedSeries(page)).toEqual(['cpu/s4']);

    await page.fill('#search-metric', '');
    await page.fill('#search-source', 's1');
    await page.waitForSelector('#series-list[data-query="sourcePrefix=s1"]');
    expect(await listedSeries(page)).toEqual(['cpu/s1', 'disk/s1', 'mem/s1']);

    await page.fill('#search-source', 'no such');
    await page.waitForSelector('#search-hint.error');
    expect(await listedSeries(page)).toEqual([]);
    await page.fill('#search-source', '');
  });

  it('charts a series raw and in every tier with the points the API returns', async () => {
    await page.fill('#search-metric', 'cpu');
    await page.waitForSelector('#series-list[data-query="metricPrefix=cpu"]');
    expect(await page.isVisible('#metric-overview')).toBe(true);
    await page.click('#series-list button[data-source="s2"]');
    await page.waitForSelector('#chart[data-selection="series:cpu/s2"]');

    const { range, labels, counts } = await readChart(page);
    expect(labels).toEqual(['raw', '1m avg', '1m max']);
    expect(counts[0]).toBe(CPU_S2_SAMPLES);
    const bounds = `from=${range.fromMs}&to=${range.toMs}`;
    const path = '/api/ingest/series/cpu/s2/range';
    const tiers = await Promise.all([
      getJson(`${path}?${bounds}&agg=avg&bucket=60000`),
      getJson(`${path}?${bounds}&agg=max&bucket=60000`),
    ]);
    expect(tiers.every((tier) => tier.aggregation.tier)).toBe(true);
    expect(counts.slice(1)).toEqual(tiers.map((tier) => tier.points.length));
    expect(counts[1]).toBeGreaterThan(10);
  });

  it('charts a metric reduced across its sources', async () => {
    await page.click('#metric-overview');
    await page.waitForSelector('#chart[data-selection="metric:cpu"]');
    const { range, labels, counts } = await readChart(page);
    expect(labels).toEqual(['avg of 1m avg', 'avg of 1m max']);
    const path = `/api/ingest/metrics/cpu/range?from=${range.fromMs}&to=${range.toMs}&reduce=avg&bucket=60000`;
    const reduced = await Promise.all([getJson(`${path}&agg=avg`), getJson(`${path}&agg=max`)]);
    expect(reduced.map((body) => body.sources)).toEqual([5, 5]);
    expect(counts).toEqual(reduced.map((body) => body.points.length));
    expect(await page.textContent('#chart-subtitle')).toBe('5 sources, avg per bucket');
  });

  it('keeps the token for the tab: a reload goes live without asking again', async () => {
    await page.reload();
    await page.waitForSelector('#status[data-state="live"]');
    expect(await page.isHidden('#token-form')).toBe(true);
  });

  it('keeps the token form closed when a request sent before the token comes back refused', async () => {
    const tab = await page.context().newPage();
    try {
      let holdRequest!: (route: Route) => void;
      const heldRequest = new Promise<Route>((resolve) => (holdRequest = resolve));
      let holding = true;
      await tab.route('**/api/ingest/rollups', (route) => {
        if (!holding || route.request().headers().authorization !== undefined) return route.continue();
        holding = false;
        holdRequest(route);
      });
      // Refreshing once a minute, the tab sends no rollups request but the ones this test holds and waits for.
      await tab.goto(`${base}/?refresh=60000`);
      await tab.waitForSelector('#token-form:not([hidden])');
      const sentWithoutToken = await heldRequest;
      await tab.fill('#token', READ_TOKEN);
      await tab.press('#token', 'Enter');
      await tab.waitForSelector('#status[data-state="live"]');

      const askedAgain = tab
        .waitForRequest(
          (request) => request.url().endsWith('/api/ingest/rollups') && 'authorization' in request.headers(),
        )
        .then(() => 'asked again with the token');
      const formReopened = tab.waitForSelector('#token-form:not([hidden])').then(() => 'token form reopened');
      await sentWithoutToken.continue();
      expect(await Promise.race([askedAgain, formReopened])).toBe('asked again with the token');
      await tab.waitForSelector('#status[data-state="live"]');
      expect(await tab.isHidden('#token-form')).toBe(true);
    } finally {
      await tab.close();
    }
  });

  it('loaded without script errors or refused resources once it had the token', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe('dashboard page, assets and read routes', () => {
  let redis: RedisClient;
  let config: QueryConfig;
  let api: RunningQueryApi;
  let base: string;

  beforeAll(async () => {
    config = dashboardConfig({ INGEST_ROLLUPS: '1m:avg,1m:max:2d,1h:avg', INGEST_RAW_RETENTION_MS: '86400000' });
    redis = await connectedClient(config);
    api = await start(config);
    base = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    await api.stop();
    redis.destroy();
  });

  it('serves the page at / under a CSP that allows only its own origin, with nothing inline', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe');
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map(([, attributes]) => /src="([^"]+)"/.exec(attributes!)?.[1])).toEqual([
      '/dashboard/vendor/uPlot.iife.min.js',
      '/dashboard/dashboard.js',
    ]);
    expect(scripts.every(([, , body]) => body!.trim() === '')).toBe(true);
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|<style/i);
  });

  it.each([
    ['/dashboard/dashboard.js', /javascript/],
    ['/dashboard/dashboard.css', /text\/css/],
    ['/dashboard/vendor/uPlot.iife.min.js', /javascript/],
    ['/dashboard/vendor/uPlot.min.css', /text\/css/],
  ])('serves %s locally', async (path, type) => {
    const response = await fetch(`${base}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(type);
    expect((await response.text()).length).toBeGreaterThan(1_000);
  });

  it('serves uPlot byte for byte from its package', async () => {
    const served = await (await fetch(`${base}/dashboard/vendor/uPlot.iife.min.js`)).text();
    expect(served).toBe(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'));
  });

  it.each(['/dashboard/vendor/uPlot.cjs.js', '/dashboard/vendor/..%2Fpackage.json', '/dashboard/nothing.js'])(
    'answers %s with 404',
    async (path) => {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(404);
    },
  );

  it('serves the page and its assets without a token, and its data only with one', async () => {
    for (const path of ['/', '/dashboard/dashboard.js', '/dashboard/vendor/uPlot.iife.min.js']) {
      expect((await fetch(`${base}${path}`)).status).toBe(200);
    }
    for (const path of ['/api/ingest/rollups', '/api/ingest/stream']) {
      const refused = await fetch(`${base}${path}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="query"');
      expect((await fetch(`${base}${path}`, withToken)).status).toBe(200);
    }
  });

  it('lists the configured rollup tiers', async () => {
    const response = await fetch(`${base}/api/ingest/rollups`, withToken);
    expect(await response.json()).toEqual({
      backend: 'native',
      rawRetentionMs: 86_400_000,
      tiers: [
        { aggregation: 'avg', bucketMs: 60_000, retentionMs: config.rollupTiers[0]!.retentionMs },
        { aggregation: 'max', bucketMs: 60_000, retentionMs: 2 * 86_400_000 },
        { aggregation: 'avg', bucketMs: 3_600_000, retentionMs: config.rollupTiers[2]!.retentionMs },
      ],
    });
  });

  it('counts entries ever added to the stream, which trimming does not lower', async () => {
    const counters = async () => (await fetch(`${base}/api/ingest/stream`, withToken)).json();
    const before = Date.now();
    const empty = await counters();
    expect(empty).toEqual({ length: 0, entriesAdded: 0, lastId: null, readAtMs: expect.any(Number) });
    expect(empty.readAtMs).toBeGreaterThanOrEqual(before);

    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(await redis.xAdd(config.keys.streamKey, '*', { source: 's', metric: 'm', value: String(i) }));
    await redis.xTrim(config.keys.streamKey, 'MAXLEN', 2);
    const later = await counters();
    expect(later).toEqual({ length: 2, entriesAdded: 5, lastId: ids[4], readAtMs: expect.any(Number) });
    expect(later.readAtMs).toBeGreaterThanOrEqual(empty.readAtMs);
  });
});
