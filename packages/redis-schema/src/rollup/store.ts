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

export interface RangeQuery {
  /** Inclusive bounds in epoch milliseconds. */
  readonly fromMs: number;
  readonly toMs: number;
  /** At most this many points, the oldest first. */
  readonly limit: number;
  /** Buckets to aggregate into; read from a matching tier when one exists, else computed from raw. */
  readonly aggregation?: { readonly type: Aggregation; readonly bucketMs: number };
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
}

export interface RollupStoreOptions {
  readonly keys: Keys;
  readonly rawRetentionMs: number;
  readonly tiers: readonly RollupTier[];
}
