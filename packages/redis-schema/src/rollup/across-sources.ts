import type { Keys, SeriesId } from '../keys';
import type { RedisClient } from '../redis-client';
import { listSeries } from '../series-index';
import {
  MAX_REDUCED_SOURCES,
  TooManySourcesError,
  type AcrossSourcesQuery,
  type AcrossSourcesRange,
  type Point,
  type RollupStore,
  type SourceReducer,
} from './store';

/** Index entries read per ZRANGE while collecting a metric's series. */
const SERIES_PAGE_SIZE = 1_000;

/** Series ranges read at once; each holds up to `limit` points until it is folded in. */
const CONCURRENT_RANGES = 32;

/**
 * Combines the values several series have at one timestamp, keeping only the `limit` earliest
 * timestamps. A timestamp dropped once can never come back into the answer: at least `limit`
 * earlier ones are already kept, so memory stays near `limit` however many series are folded in.
 */
export class PerTimestampReducer {
  private readonly buckets = new Map<number, { value: number; count: number }>();

  constructor(
    private readonly reduce: SourceReducer,
    private readonly limit: number,
  ) {}

  add(points: readonly Point[]): void {
    for (const { timestampMs, value } of points) {
      const bucket = this.buckets.get(timestampMs);
      if (bucket === undefined) {
        this.buckets.set(timestampMs, { value, count: 1 });
      } else {
        bucket.value = combine(this.reduce, bucket.value, value);
        bucket.count += 1;
      }
    }
    if (this.buckets.size > 2 * this.limit) this.dropBeyondLimit();
  }

  /** The reduced points, oldest first. */
  points(): Point[] {
    return this.earliest().map(([timestampMs, { value, count }]) => ({
      timestampMs,
      value: this.reduce === 'avg' ? value / count : value,
    }));
  }

  private earliest() {
    return [...this.buckets].sort(([a], [b]) => a - b).slice(0, this.limit);
  }

  private dropBeyondLimit(): void {
    const kept = new Set(this.earliest().map(([timestampMs]) => timestampMs));
    for (const timestampMs of this.buckets.keys()) if (!kept.has(timestampMs)) this.buckets.delete(timestampMs);
  }
}

function combine(reduce: SourceReducer, accumulated: number, value: number): number {
  switch (reduce) {
    case 'min':
      return Math.min(accumulated, value);
    case 'max':
      return Math.max(accumulated, value);
    default:
      // avg keeps the sum and divides by the count at the end.
      return accumulated + value;
  }
}

/** Every series of `metric` in index order; throws TooManySourcesError past `maxSources`. */
async function allSeriesOf(client: RedisClient, keys: Keys, metric: string, maxSources: number): Promise<SeriesId[]> {
  const series: SeriesId[] = [];
  let after: string | undefined;
  do {
    const page = await listSeries(client, keys, { metric, after, limit: SERIES_PAGE_SIZE });
    series.push(...page.series);
    if (series.length > maxSources) throw new TooManySourcesError(metric, maxSources);
    after = page.next ?? undefined;
  } while (after !== undefined);
  return series;
}

/**
 * One metric across all its sources for a backend without a server-side GROUPBY: each series is
 * read through `store.range` with the query's aggregation and the buckets' values are reduced per
 * timestamp, as `TS.MRANGE ... GROUPBY metric REDUCE` answers. Every series returns its first
 * `limit` buckets, and a timestamp among the first `limit` of the union is among the first `limit`
 * of each series that has it, so the answer is complete.
 */
export async function rangeAcrossSources(
  client: RedisClient,
  keys: Keys,
  store: Pick<RollupStore, 'range'>,
  metric: string,
  { reduce, maxSources = MAX_REDUCED_SOURCES, ...rangeQuery }: AcrossSourcesQuery,
): Promise<AcrossSourcesRange> {
  if (rangeQuery.limit <= 0 || rangeQuery.fromMs > rangeQuery.toMs) return { sources: 0, points: [] };
  const series = await allSeriesOf(client, keys, metric, maxSources);
  const reducer = new PerTimestampReducer(reduce, rangeQuery.limit);
  for (let start = 0; start < series.length; start += CONCURRENT_RANGES) {
    const ranges = await Promise.all(
      series.slice(start, start + CONCURRENT_RANGES).map((id) => store.range(id, rangeQuery)),
    );
    for (const points of ranges) reducer.add(points);
  }
  return { sources: series.length, points: reducer.points() };
}
