import { bucketStart } from '../tiers';

/** A series' spread, 0 to SPREAD_STEPS - 1, picks its delay out of the width's longest. */
export const SPREAD_STEPS = 1_024;

/**
 * The longest a bucket of `bucketMs` waits to be written after it ends: half a bucket, so series
 * reporting in step close their buckets spread over that half instead of all in one moment; no more
 * than the raw retention leaves after the bucket, since a bucket is aggregated from raw samples.
 */
export function maxCloseDelayMs(bucketMs: number, rawRetentionMs: number): number {
  const half = Math.floor(bucketMs / 2);
  return rawRetentionMs > 0 ? Math.min(half, Math.max(0, rawRetentionMs - bucketMs)) : half;
}

/** FNV-1a of the series' raw key, folded onto the spread steps: the same series always waits as long. */
export function seriesSpread(rawKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < rawKey.length; i++) hash = Math.imul(hash ^ rawKey.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SPREAD_STEPS;
}

/** What add-samples.lua computes from the same figures, so readers know which buckets it has written. */
export function closeDelayMs(maxDelayMs: number, spread: number): number {
  return Math.floor((maxDelayMs * spread) / SPREAD_STEPS);
}

/**
 * The start of the closed bucket that may not be written yet, given the series' newest timestamp:
 * the one before the newest's, while the newest is within the delay of its own bucket's start.
 * Every older bucket is written; the newest's own bucket is open.
 */
export function unwrittenClosedBucket(newestMs: number, bucketMs: number, delayMs: number): number | undefined {
  const openStart = bucketStart(newestMs, bucketMs);
  return newestMs < openStart + delayMs ? openStart - bucketMs : undefined;
}
