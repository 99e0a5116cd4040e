import { parseSeriesMember, seriesMember, seriesMemberBySource, type Keys, type SeriesId } from './keys';
import type { RedisClient } from './redis-client';

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
  /** Only metrics whose name starts with this; not with `metric`. */
  readonly metricPrefix?: string;
  /** Only sources whose name starts with this; not with `source`. */
  readonly sourcePrefix?: string;
  /** The `next` cursor of the previous page. */
  readonly after?: string;
  readonly limit: number;
}

export interface SeriesPage {
  readonly series: SeriesId[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
}

/** A filter no single lexicographic range answers, naming the query field that makes it so. */
export class UnsupportedSeriesFilterError extends Error {
  constructor(
    readonly field: 'metricPrefix' | 'sourcePrefix',
    message: string,
  ) {
    super(message);
  }
}

interface NameFilter {
  readonly name: string;
  readonly prefix: boolean;
}

function nameFilter(
  exact: string | undefined,
  prefix: string | undefined,
  name: 'metric' | 'source',
): NameFilter | undefined {
  if (exact !== undefined && prefix !== undefined)
    throw new UnsupportedSeriesFilterError(`${name}Prefix`, `Not with ${name}: they exclude each other`);
  if (exact !== undefined) return { name: exact, prefix: false };
  return prefix === undefined ? undefined : { name: prefix, prefix: true };
}

/**
 * Members of an index are `lead:trail`; a filter on both names is one range only when the leading
 * name is exact. Names are ASCII, so every member starting with `p` sorts below `p` + U+00FF.
 */
function lexRange(lead: NameFilter | undefined, trail: NameFilter | undefined): { start: string; max: string } {
  if (lead === undefined) return { start: '', max: '+' };
  if (lead.prefix) return { start: lead.name, max: `(${lead.name}\xff` };
  if (trail === undefined) {
    // ';' is the character after ':', so "(lead;" ends the range right after every "lead:..." member.
    return { start: `${lead.name}:`, max: `(${lead.name};` };
  }
  const start = `${lead.name}:${trail.name}`;
  return { start, max: trail.prefix ? `(${start}\xff` : `[${start}` };
}

/**
 * Pages through known series in name order, filtered by exact names or name prefixes. Both indexes
 * are sorted sets with equal scores, one led by the metric and one by the source, so every filter
 * is a lexicographic range of one of them and a page costs O(log n + limit) at any size. Prefixes
 * of both names at once would not be one range, and are refused.
 */
export async function listSeries(client: RedisClient, keys: Keys, query: SeriesPageQuery): Promise<SeriesPage> {
  const metric = nameFilter(query.metric, query.metricPrefix, 'metric');
  const source = nameFilter(query.source, query.sourcePrefix, 'source');
  if (metric?.prefix && source?.prefix) {
    throw new UnsupportedSeriesFilterError('sourcePrefix', 'Not with metricPrefix: give one of the two names exactly');
  }
  // The index led by the source when only the source narrows, or when the metric is only a prefix.
  const bySource = source !== undefined && (metric === undefined || metric.prefix);
  const key = bySource ? keys.seriesIndexBySource : keys.seriesIndex;
  const { start, max } = bySource ? lexRange(source, metric) : lexRange(metric, source);
  // A cursor from before the filtered range must not widen it.
  const min = query.after !== undefined && query.after >= start ? `(${query.after}` : start === '' ? '-' : `[${start}`;
  const members = (await client.sendCommand([
    'ZRANGE',
    key,
    min,
    max,
    'BYLEX',
    'LIMIT',
    '0',
    String(query.limit + 1),
  ])) as unknown as string[];
  const page = members.slice(0, query.limit);
  const series = page.map((member) => {
    const parsed = parseSeriesMember(member);
    return bySource ? { metric: parsed.source, source: parsed.metric } : parsed;
  });
  const hasMore = members.length > query.limit;
  return { series, next: hasMore ? page[page.length - 1]! : null };
}
