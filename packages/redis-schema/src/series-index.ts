import { parseSeriesMember, seriesMember, seriesMemberBySource, type Keys, type SeriesId } from './keys';
import type { RedisClient } from './redis';

/** The ZADD arguments that record a series in both indexes; callers pipeline them with their writes. */
export function indexSeriesCommands(keys: Keys, series: SeriesId): string[][] {
  return [
    ['ZADD', keys.seriesIndex, '0', seriesMember(series)],
    ['ZADD', keys.seriesIndexBySource, '0', seriesMemberBySource(series)],
  ];
}

export interface SeriesPageQuery {
  readonly metric?: string;
  readonly source?: string;
  /** The `next` cursor of the previous page. */
  readonly after?: string;
  readonly limit: number;
}

export interface SeriesPage {
  readonly series: SeriesId[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
}

/**
 * Pages through known series in name order. Both indexes are sorted sets with equal scores, so a
 * prefix filter is a lexicographic range and a page costs O(log n + limit) at any size.
 */
export async function listSeries(client: RedisClient, keys: Keys, query: SeriesPageQuery): Promise<SeriesPage> {
  const bySource = query.source !== undefined && query.metric === undefined;
  const key = bySource ? keys.seriesIndexBySource : keys.seriesIndex;
  let prefix = '';
  if (query.metric !== undefined) prefix = query.source === undefined ? `${query.metric}:` : seriesMember(query as SeriesId);
  else if (query.source !== undefined) prefix = `${query.source}:`;
  // ';' is the character after ':', so "(prefix;" ends the range right after every "prefix:..." member.
  const exact = query.metric !== undefined && query.source !== undefined;
  const max = prefix === '' ? '+' : exact ? `[${prefix}` : `(${prefix.slice(0, -1)};`;
  // A cursor from before the filtered range must not widen it.
  const min =
    query.after !== undefined && query.after >= prefix ? `(${query.after}` : prefix === '' ? '-' : `[${prefix}`;
  const members = (await client.sendCommand([
    'ZRANGE', key, min, max, 'BYLEX', 'LIMIT', '0', String(query.limit + 1),
  ])) as unknown as string[];
  const page = members.slice(0, query.limit);
  const series = page.map((member) => {
    const parsed = parseSeriesMember(member);
    return bySource ? { metric: parsed.source, source: parsed.metric } : parsed;
  });
  const hasMore = members.length > query.limit;
  return { series, next: hasMore ? page[page.length - 1]! : null };
}
