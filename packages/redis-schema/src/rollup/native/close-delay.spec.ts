import { SPREAD_STEPS, closeDelayMs, maxCloseDelayMs, seriesSpread, unwrittenClosedBucket } from './close-delay';

describe('bucket close delays', () => {
  it('waits at most half a bucket, and no longer than the raw retention leaves after the bucket', () => {
    expect(maxCloseDelayMs(60_000, 0)).toBe(30_000);
    expect(maxCloseDelayMs(60_000, 7 * 86_400_000)).toBe(30_000);
    expect(maxCloseDelayMs(60_000, 70_000)).toBe(10_000);
    expect(maxCloseDelayMs(60_000, 60_000)).toBe(0);
    expect(maxCloseDelayMs(60_000, 1_000)).toBe(0);
    expect(maxCloseDelayMs(1_001, 0)).toBe(500);
  });

  it('gives each series a fixed spread, and spreads many series over every step', () => {
    const spreads = Array.from({ length: 20_000 }, (_, i) =>
      seriesSpread(`ingest:series:{temperature:device-${i}}:raw`),
    );
    expect(seriesSpread('ingest:series:{temperature:device-7}:raw')).toBe(spreads[7]);
    expect(Math.min(...spreads)).toBe(0);
    expect(Math.max(...spreads)).toBe(SPREAD_STEPS - 1);
    const perQuarter = [0, 1, 2, 3].map(
      (quarter) => spreads.filter((spread) => Math.floor((spread * 4) / SPREAD_STEPS) === quarter).length,
    );
    for (const count of perQuarter) expect(count).toBeGreaterThan(4_500);
  });

  it('turns a spread into a delay below the longest', () => {
    expect(closeDelayMs(30_000, 0)).toBe(0);
    expect(closeDelayMs(30_000, 512)).toBe(15_000);
    expect(closeDelayMs(30_000, SPREAD_STEPS - 1)).toBe(29_970);
    expect(closeDelayMs(0, SPREAD_STEPS - 1)).toBe(0);
  });

  it('names the bucket before the newest as unwritten only while the newest is within the delay', () => {
    expect(unwrittenClosedBucket(60_000, 60_000, 5_000)).toBe(0);
    expect(unwrittenClosedBucket(64_999, 60_000, 5_000)).toBe(0);
    expect(unwrittenClosedBucket(65_000, 60_000, 5_000)).toBeUndefined();
    expect(unwrittenClosedBucket(60_000, 60_000, 0)).toBeUndefined();
  });
});
