import type { Point } from './store';
import { bucketStart, type Aggregation } from './tiers';

/** The running figures of one bucket, enough to answer every aggregation; named after them. */
interface BucketFigures {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly last: number;
}

/** avg is sum / count, as RedisTimeSeries finalises it, so both backends agree to the last bit. */
function finalizeBucket(figures: BucketFigures, type: Aggregation): number {
  return type === 'avg' ? figures.sum / figures.count : figures[type];
}

function addToFigures(figures: BucketFigures | undefined, value: number): BucketFigures {
  if (figures === undefined) {
    // The sum starts at 0 like RedisTimeSeries' context, which turns a lone -0 into 0.
    return { count: 1, sum: 0 + value, min: value, max: value, first: value, last: value };
  }
  return {
    count: figures.count + 1,
    sum: figures.sum + value,
    min: value < figures.min ? value : figures.min,
    max: value > figures.max ? value : figures.max,
    first: figures.first,
    last: value,
  };
}

/**
 * Aggregates points (oldest first) into buckets aligned to epoch 0 and stamped with their start,
 * as `TS.RANGE key from to AGGREGATION type bucketMs` answers: empty buckets are left out and the
 * last bucket may be partial.
 */
export function aggregatePoints(points: readonly Point[], type: Aggregation, bucketMs: number): Point[] {
  const buckets: Point[] = [];
  let start = 0;
  let figures: BucketFigures | undefined;
  for (const point of points) {
    const pointBucket = bucketStart(point.timestampMs, bucketMs);
    if (figures !== undefined && pointBucket !== start) {
      buckets.push({ timestampMs: start, value: finalizeBucket(figures, type) });
      figures = undefined;
    }
    start = pointBucket;
    figures = addToFigures(figures, point.value);
  }
  if (figures !== undefined) buckets.push({ timestampMs: start, value: finalizeBucket(figures, type) });
  return buckets;
}
