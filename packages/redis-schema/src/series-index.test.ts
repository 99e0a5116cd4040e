import { createClient } from '@redis/client';
import { isolatedConfig, testRedisUrl } from '@redis-ingest/test-utils';
import { createKeys, type SeriesId } from './keys';
import type { RedisClient } from './redis-client';
import { indexSeriesCommands, listSeries, UnsupportedSeriesFilterError, type SeriesPageQuery } from './series-index';

describe('series index', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  const keys = createKeys(isolatedConfig(testRedisUrl()).keys);
  const all: SeriesId[] = [];
  for (const metric of ['cpu', 'cpu.load', 'mem']) {
    for (const source of ['a', 'b', 'c-1', 'c']) all.push({ metric, source });
  }

  beforeAll(async () => {
    await client.connect();
    await Promise.all(
      all.flatMap((series) => indexSeriesCommands(keys, series)).map((args) => client.sendCommand(args)),
    );
  });
  afterAll(() => client.destroy());

  async function pages(query: Omit<SeriesPageQuery, 'after'>): Promise<SeriesId[][]> {
    const result: SeriesId[][] = [];
    let after: string | undefined;
    do {
      const page = await listSeries(client, keys, { ...query, after });
      result.push(page.series);
      after = page.next ?? undefined;
    } while (after !== undefined);
    return result;
  }

  const sorted = (series: SeriesId[]) =>
    [...series].sort((x, y) => (`${x.metric}:${x.source}` < `${y.metric}:${y.source}` ? -1 : 1));

  it('pages through every series once, in name order', async () => {
    const result = await pages({ limit: 5 });
    expect(result.map((page) => page.length)).toEqual([5, 5, 2]);
    expect(result.flat()).toEqual(sorted(all));
  });

  it('filters by metric without catching metrics that share a prefix', async () => {
    const result = (await pages({ metric: 'cpu', limit: 3 })).flat();
    expect(result).toEqual(sorted(all.filter((series) => series.metric === 'cpu')));
  });

  it('filters by source across metrics', async () => {
    const result = (await pages({ source: 'c', limit: 2 })).flat();
    expect(result).toEqual([
      { metric: 'cpu', source: 'c' },
      { metric: 'cpu.load', source: 'c' },
      { metric: 'mem', source: 'c' },
    ]);
  });

  it('finds one series by metric and source', async () => {
    expect((await listSeries(client, keys, { metric: 'mem', source: 'b', limit: 10 })).series).toEqual([
      { metric: 'mem', source: 'b' },
    ]);
    expect((await listSeries(client, keys, { metric: 'mem', source: 'zz', limit: 10 })).series).toEqual([]);
  });

  it('filters by a metric prefix, a page at a time', async () => {
    const result = await pages({ metricPrefix: 'cp', limit: 3 });
    expect(result.map((page) => page.length)).toEqual([3, 3, 2]);
    expect(result.flat()).toEqual(sorted(all.filter((series) => series.metric.startsWith('cp'))));
    expect((await pages({ metricPrefix: 'cpu.', limit: 10 })).flat()).toEqual(
      sorted(all.filter((series) => series.metric === 'cpu.load')),
    );
    expect((await pages({ metricPrefix: 'x', limit: 10 })).flat()).toEqual([]);
  });

  it('filters by a source prefix across metrics', async () => {
    const result = (await pages({ sourcePrefix: 'c', limit: 4 })).flat();
    // In the source-led index's order: "c-1:..." sorts before "c:..." as '-' sorts before ':'.
    expect(result).toEqual(
      ['c-1', 'c'].flatMap((source) => ['cpu', 'cpu.load', 'mem'].map((metric) => ({ metric, source }))),
    );
  });

  it('combines an exact name with a prefix of the other', async () => {
    expect((await pages({ metric: 'mem', sourcePrefix: 'c', limit: 1 })).flat()).toEqual([
      { metric: 'mem', source: 'c' },
      { metric: 'mem', source: 'c-1' },
    ]);
    expect((await pages({ source: 'b', metricPrefix: 'cpu', limit: 1 })).flat()).toEqual([
      { metric: 'cpu', source: 'b' },
      { metric: 'cpu.load', source: 'b' },
    ]);
  });

  it('refuses filters no single range answers', async () => {
    await expect(listSeries(client, keys, { metricPrefix: 'c', sourcePrefix: 'c', limit: 10 })).rejects.toThrow(
      UnsupportedSeriesFilterError,
    );
    await expect(listSeries(client, keys, { metricPrefix: 'c', sourcePrefix: 'c', limit: 10 })).rejects.toMatchObject({
      field: 'sourcePrefix',
    });
    await expect(listSeries(client, keys, { metric: 'cpu', metricPrefix: 'c', limit: 10 })).rejects.toMatchObject({
      field: 'metricPrefix',
      message: expect.stringMatching(/exclude each other/),
    });
  });

  it('does not let a cursor from outside the filter widen it', async () => {
    const page = await listSeries(client, keys, { metric: 'mem', after: 'a', limit: 100 });
    expect(page.series.every((series) => series.metric === 'mem')).toBe(true);
    expect(page.series).toHaveLength(4);
    const prefixed = await listSeries(client, keys, { metricPrefix: 'me', after: 'a', limit: 100 });
    expect(prefixed.series).toHaveLength(4);
  });
});
