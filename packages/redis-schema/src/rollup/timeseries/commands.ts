/**
 * RedisTimeSeries commands as pure argument builders, one per command, with keywords in the order
 * the redis.io command pages give them. The module parses some options positionally, so the order
 * is part of the contract and the tests pin every array.
 */
import type { Aggregation } from '../tiers';

export type DuplicatePolicy = 'BLOCK' | 'FIRST' | 'LAST' | 'MIN' | 'MAX' | 'SUM';

/** Label names to values, sent in insertion order. */
export type Labels = Readonly<Record<string, string>>;

export interface BucketAggregation {
  readonly type: Aggregation;
  readonly bucketMs: number;
}

/** The GROUPBY reducers the query side uses (the module knows more). */
export type Reducer = 'avg' | 'min' | 'max' | 'sum';

export interface CreateOptions {
  /** 0 keeps samples forever. */
  readonly retentionMs: number;
  /** Unset leaves the server's default, which is BLOCK. */
  readonly duplicatePolicy?: DuplicatePolicy;
  readonly labels: Labels;
}

/** `TS.CREATE key [RETENTION ms] [DUPLICATE_POLICY policy] [LABELS label value ...]` */
export function tsCreate(key: string, { retentionMs, duplicatePolicy, labels }: CreateOptions): string[] {
  const args = ['TS.CREATE', key, 'RETENTION', String(retentionMs)];
  if (duplicatePolicy !== undefined) args.push('DUPLICATE_POLICY', duplicatePolicy);
  args.push('LABELS', ...Object.entries(labels).flat());
  return args;
}

/** `TS.CREATERULE sourceKey destKey AGGREGATION aggregator bucketDuration`, buckets aligned to epoch 0. */
export function tsCreateRule(
  sourceKey: string,
  destinationKey: string,
  { type, bucketMs }: BucketAggregation,
): string[] {
  return ['TS.CREATERULE', sourceKey, destinationKey, 'AGGREGATION', type, String(bucketMs)];
}

export interface KeyedSample {
  readonly key: string;
  readonly timestampMs: number;
  readonly value: number;
}

/**
 * `TS.MADD key timestamp value [key timestamp value ...]`. JavaScript's String(number) is accepted
 * for every finite number; the module would read `12abc` as 12, so callers pass validated numbers.
 */
export function tsMAdd(samples: readonly KeyedSample[]): string[] {
  return ['TS.MADD', ...samples.flatMap(({ key, timestampMs, value }) => [key, String(timestampMs), String(value)])];
}

/** `TS.GET key`: without LATEST a compaction reports its last closed bucket only. */
export function tsGet(key: string): string[] {
  return ['TS.GET', key];
}

/** `TS.INFO key` */
export function tsInfo(key: string): string[] {
  return ['TS.INFO', key];
}

export interface RangeOptions {
  /** On a compaction, also report the still-open bucket. Ignored on a raw series. */
  readonly latest?: boolean;
  /** Without aggregation it limits samples, with it buckets; the module refuses 0. */
  readonly count?: number;
  /** Without ALIGN, buckets start at multiples of bucketMs and are stamped with their start. */
  readonly aggregation?: BucketAggregation;
}

/**
 * `[LATEST] [labelOptions] [COUNT count] [AGGREGATION aggregator bucketDuration]`, shared by the range
 * commands; the multi-series ones put their label options (WITHLABELS) after LATEST.
 */
function rangeOptions({ latest, count, aggregation }: RangeOptions, labelOptions: readonly string[] = []): string[] {
  const args: string[] = [];
  if (latest) args.push('LATEST');
  args.push(...labelOptions);
  if (count !== undefined) args.push('COUNT', String(count));
  if (aggregation !== undefined) args.push('AGGREGATION', aggregation.type, String(aggregation.bucketMs));
  return args;
}

/** `TS.RANGE key fromTimestamp toTimestamp [LATEST] [COUNT count] [AGGREGATION aggregator bucketDuration]` */
export function tsRange(key: string, fromMs: number, toMs: number, options: RangeOptions = {}): string[] {
  return ['TS.RANGE', key, String(fromMs), String(toMs), ...rangeOptions(options)];
}

export interface MRangeOptions extends RangeOptions {
  /** `label=value` expressions; the module needs at least one. */
  readonly filter: readonly string[];
  readonly groupBy?: { readonly label: string; readonly reducer: Reducer };
  /** Report each series' labels; with GROUPBY, the group label, `__reducer__` and `__source__` (the keys reduced). */
  readonly withLabels?: boolean;
}

/**
 * `TS.MRANGE fromTimestamp toTimestamp [LATEST] [WITHLABELS] [COUNT count] [AGGREGATION aggregator bucketDuration]
 * FILTER filterExpr... [GROUPBY label REDUCE reducer]`: FILTER follows every option, GROUPBY follows FILTER.
 */
export function tsMRange(
  fromMs: number,
  toMs: number,
  { filter, groupBy, withLabels, ...options }: MRangeOptions,
): string[] {
  const labelOptions = withLabels ? ['WITHLABELS'] : [];
  const args = ['TS.MRANGE', String(fromMs), String(toMs), ...rangeOptions(options, labelOptions), 'FILTER', ...filter];
  if (groupBy !== undefined) args.push('GROUPBY', groupBy.label, 'REDUCE', groupBy.reducer);
  return args;
}
