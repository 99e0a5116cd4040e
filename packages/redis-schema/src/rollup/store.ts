import type { Keys, SeriesId } from '../keys';
import type { Aggregation, RollupTier } from './tiers';

export interface Point {
  readonly timestampMs: number;
  readonly value: number;
}

export interface Sample extends SeriesId, Point {}

export type WriteResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface SeriesLatest {
  readonly raw: Point | null;
  /**
   * The last closed bucket of each tier, in the order of `RollupStore.tiers`; null until a sample
   * from a later bucket has closed the first one (as RedisTimeSeries compaction behaves).
   */
  readonly rollups: readonly (Point | null)[];
}

/**
 * The newest raw point and the newest point of every tier of each series, one read per key. The
 * reads are issued in one tick, so node-redis pipelines them.
 */
export function readLatest(
  keys: Keys,
  tiers: readonly RollupTier[],
  series: readonly SeriesId[],
  newestRaw: (series: SeriesId) => Promise<Point | null>,
  newestRollup: (key: string) => Promise<Point | null>,
): Promise<SeriesLatest[]> {
  return Promise.all(
    series.map(async (id) => {
      const [raw, ...rollups] = await Promise.all([
        newestRaw(id),
        ...tiers.map((tier) => newestRollup(keys.rollup(id, tier))),
      ]);
      return { raw: raw ?? null, rollups };
    }),
  );
}

export interface RangeQuery {
  /** Inclusive bounds in epoch milliseconds. */
  readonly fromMs: number;
  readonly toMs: number;
  /** At most this many points, the oldest first. */
  readonly limit: number;
  /** Buckets to aggregate into; read from a matching tier when one exists, else computed from raw. */
  readonly aggregation?: { readonly type: Aggregation; readonly bucketMs: number };
}

/** How the sources' values at one bucket combine into one value of a metric. */
export const SOURCE_REDUCERS = ['avg', 'min', 'max', 'sum'] as const;
export type SourceReducer = (typeof SOURCE_REDUCERS)[number];

/** Reading every source of a metric is bounded; past this many series a query is refused. */
export const MAX_REDUCED_SOURCES = 10_000;

export interface AcrossSourcesQuery extends RangeQuery {
  readonly aggregation: { readonly type: Aggregation; readonly bucketMs: number };
  readonly reduce: SourceReducer;
  /** Defaults to MAX_REDUCED_SOURCES. */
  readonly maxSources?: number;
}

export interface AcrossSourcesRange {
  /** How many series of the metric were reduced. */
  readonly sources: number;
  readonly points: Point[];
}

export class TooManySourcesError extends Error {
  constructor(
    readonly metric: string,
    readonly maxSources: number,
  ) {
    super(`Metric "${metric}" has more than ${maxSources} sources to reduce`);
    this.name = 'TooManySourcesError';
  }
}

export type RollupBackend = 'native' | 'timeseries';

/**
 * Where validated samples go. Both backends keep one raw series per (metric, source), a repeated
 * timestamp keeps the last value, and each configured tier rolls the raw series up.
 */
export interface RollupStore {
  readonly backend: RollupBackend;
  readonly tiers: readonly RollupTier[];
  /** Loads scripts or checks the module; call once before anything else. */
  bootstrap(): Promise<void>;
  /**
   * Writes samples, creating series and indexing them on first sight. Result i belongs to sample i;
   * a sample Redis refuses (e.g. older than retention) is a failed result, while a connection
   * failure rejects the whole call.
   */
  addSamples(samples: readonly Sample[]): Promise<WriteResult[]>;
  latest(series: readonly SeriesId[]): Promise<SeriesLatest[]>;
  range(series: SeriesId, query: RangeQuery): Promise<Point[]>;
  /**
   * One metric across all its sources: each series aggregated into the query's buckets, then the
   * sources' values at each bucket reduced to one, oldest first, at most `limit`. An empty limit or
   * an inverted range answers nothing without asking; a metric with more series than
   * `maxSources` is refused with TooManySourcesError.
   */
  rangeAcrossSources(metric: string, query: AcrossSourcesQuery): Promise<AcrossSourcesRange>;
}

export interface RollupStoreOptions {
  readonly keys: Keys;
  readonly rawRetentionMs: number;
  readonly tiers: readonly RollupTier[];
}
