/**
 * How this deployment labels its RedisTimeSeries series, and the label-filtered queries built on
 * those labels. Filters match every series on the server, so each one carries a `deployment` label
 * and every filter includes it: another deployment (or a test) sharing the server is never caught.
 */
import type { Keys, SeriesId } from '../../keys';
import type { RollupTier } from '../tiers';
import { tsMRange, type BucketAggregation, type Labels, type Reducer } from './commands';

/**
 * The module refuses label values containing `(`, `)` or `,`, and filter expressions split on `=`,
 * treat `!` as negation and allow whitespace only inside quotes.
 */
const UNSAFE_LABEL_VALUE = /[\s(),=!'"]/;

/**
 * The value of the `deployment` label: the series index key, which already names exactly the set
 * of series one deployment owns.
 */
export function deploymentLabel(keys: Keys): string {
  const value = keys.seriesIndex;
  if (value === '' || UNSAFE_LABEL_VALUE.test(value)) {
    throw new Error(
      `The series index key "${value}" labels this deployment's series, so it must be non-empty and free of ` +
        `whitespace, quotes and the characters ( ) , = !`,
    );
  }
  return value;
}

export function rawSeriesLabels(deployment: string, { metric, source }: SeriesId): Labels {
  return { metric, source, kind: 'raw', deployment };
}

export function rollupSeriesLabels(deployment: string, { metric, source }: SeriesId, tier: RollupTier): Labels {
  return {
    metric,
    source,
    kind: 'rollup',
    aggregation: tier.aggregation,
    bucket_ms: String(tier.bucketMs),
    deployment,
  };
}

/** Every raw series of one metric in this deployment, one per source. */
export function rawMetricFilter(deployment: string, metric: string): string[] {
  return [`metric=${metric}`, 'kind=raw', `deployment=${deployment}`];
}

export interface MetricRangeQuery {
  readonly metric: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly latest?: boolean;
  readonly count?: number;
  readonly aggregation?: BucketAggregation;
  /** How the sources' values at one timestamp (or bucket) combine. */
  readonly reducer: Reducer;
}

/**
 * One metric across all its sources, reduced to a single series (TS.MRANGE ... GROUPBY metric).
 * WITHLABELS makes the group report the keys it reduced in its `__source__` label.
 */
export function metricRangeAcrossSources(
  deployment: string,
  { metric, fromMs, toMs, reducer, ...options }: MetricRangeQuery,
): string[] {
  return tsMRange(fromMs, toMs, {
    ...options,
    withLabels: true,
    filter: rawMetricFilter(deployment, metric),
    groupBy: { label: 'metric', reducer },
  });
}
