import { parseDuration, parseIsoTimestamp, type Aggregation } from '@redis-ingest/redis-schema';
import { invalid } from './query-params';

/** A range without `from` covers the hour before `to`. */
export const DEFAULT_WINDOW_MS = 3_600_000;

/** The latest instant a JavaScript Date can hold. */
const MAX_TIME_MS = 8.64e15;

const EPOCH_MS = /^\d{1,16}$/;

export interface RangeParams {
  readonly from?: string;
  readonly to?: string;
  readonly agg?: Aggregation;
  readonly bucket?: string;
}

export interface BucketAggregation {
  readonly type: Aggregation;
  readonly bucketMs: number;
}

export interface ResolvedRange<A extends BucketAggregation | null> {
  readonly fromMs: number;
  readonly toMs: number;
  readonly aggregation: BucketAggregation | A;
}

/**
 * Epoch milliseconds, or an ISO-8601 date-time with an offset as events carry them; undefined for
 * anything else.
 */
export function parseTime(text: string): number | undefined {
  if (!EPOCH_MS.test(text)) return parseIsoTimestamp(text);
  const ms = Number(text);
  return ms > MAX_TIME_MS ? undefined : ms;
}

function resolveAggregation<A extends BucketAggregation | null>(
  params: RangeParams,
  fallback: A,
): BucketAggregation | A {
  if (params.agg === undefined && params.bucket === undefined) return fallback;
  if (params.bucket === undefined)
    throw invalid('query parameters', [{ path: '/bucket', message: 'Required with agg' }]);
  if (params.agg === undefined) throw invalid('query parameters', [{ path: '/agg', message: 'Required with bucket' }]);
  const bucketMs = parseDuration(params.bucket);
  if (bucketMs === undefined || bucketMs <= 0) {
    throw invalid('query parameters', [{ path: '/bucket', message: 'Expected a positive duration such as 1m' }]);
  }
  return { type: params.agg, bucketMs };
}

/**
 * Turns validated range parameters into bounds and an aggregation, refusing with a 400 naming the
 * parameter: a time that does not exist, `from` after `to`, only one of `agg` and `bucket`, or more
 * buckets in the range than `maxPoints`. Without `agg` and `bucket` the aggregation is `fallback`.
 */
export function resolveRange<A extends BucketAggregation | null = null>(
  params: RangeParams,
  { nowMs, maxPoints, fallback }: { nowMs: number; maxPoints: number; fallback?: A },
): ResolvedRange<A> {
  const read = (name: 'from' | 'to'): number | undefined => {
    const text = params[name];
    if (text === undefined) return undefined;
    const ms = parseTime(text);
    if (ms === undefined) {
      throw invalid('query parameters', [
        { path: `/${name}`, message: 'Expected epoch milliseconds or an ISO-8601 date-time with an offset' },
      ]);
    }
    return ms;
  };
  const toMs = read('to') ?? nowMs;
  const fromMs = read('from') ?? Math.max(0, toMs - DEFAULT_WINDOW_MS);
  if (fromMs > toMs) throw invalid('query parameters', [{ path: '/from', message: 'Must not be after to' }]);
  const aggregation = resolveAggregation(params, fallback ?? (null as A));
  if (aggregation !== null && (toMs - fromMs) / aggregation.bucketMs > maxPoints) {
    throw invalid('query parameters', [
      {
        path: '/bucket',
        message: `The range spans more than ${maxPoints} buckets of this width; widen the bucket or narrow the range`,
      },
    ]);
  }
  return { fromMs, toMs, aggregation };
}
