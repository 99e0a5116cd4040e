export const AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'count', 'first', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface RollupTier {
  readonly aggregation: Aggregation;
  readonly bucketMs: number;
  /** 0 keeps every bucket. */
  readonly retentionMs: number;
}

export function bucketStart(timestampMs: number, bucketMs: number): number {
  return timestampMs - (timestampMs % bucketMs);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `1m`, `1h`, `30d` or a plain number of milliseconds; undefined when it is none of them. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 'ms']!;
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Parses `bucket:aggregation[:retention]` entries separated by commas, e.g. `1m:avg,1m:max,1h:avg:30d`.
 * Throws an Error describing the first bad entry.
 */
export function parseRollupTiers(text: string, defaultRetentionMs: number): RollupTier[] {
  const tiers: RollupTier[] = [];
  for (const entry of text.split(',').map((part) => part.trim())) {
    const [bucket = '', aggregation = '', retention, ...rest] = entry.split(':');
    const bucketMs = parseDuration(bucket);
    if (bucketMs === undefined || bucketMs <= 0 || rest.length > 0) {
      throw new Error(`"${entry}" is not bucket:aggregation[:retention] with a bucket such as 1m`);
    }
    if (!(AGGREGATIONS as readonly string[]).includes(aggregation)) {
      throw new Error(`"${entry}" names aggregation "${aggregation}"; expected one of ${AGGREGATIONS.join(', ')}`);
    }
    const retentionMs = retention === undefined ? defaultRetentionMs : parseDuration(retention);
    if (retentionMs === undefined) throw new Error(`"${entry}" has retention "${retention}"; expected e.g. 30d or 0`);
    if (tiers.some((tier) => tier.bucketMs === bucketMs && tier.aggregation === aggregation)) {
      throw new Error(`"${entry}" is listed twice`);
    }
    tiers.push({ aggregation: aggregation as Aggregation, bucketMs, retentionMs });
  }
  return tiers;
}
