import { bucketStart, parseDuration, parseRollupTiers } from './tiers';

describe('parseDuration', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['90s', 90_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['30d', 2_592_000_000],
    ['0', 0],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '1w', '-1m', '1.5h', 'm'])('refuses %p', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('parseRollupTiers', () => {
  it('reads several tiers with and without retention', () => {
    expect(parseRollupTiers('1m:avg,1m:max,1h:avg:30d', 7)).toEqual([
      { aggregation: 'avg', bucketMs: 60_000, retentionMs: 7 },
      { aggregation: 'max', bucketMs: 60_000, retentionMs: 7 },
      { aggregation: 'avg', bucketMs: 3_600_000, retentionMs: 2_592_000_000 },
    ]);
  });

  it('takes a plain millisecond bucket, as INGEST_ROLLUP_BUCKET_MS gives', () => {
    expect(parseRollupTiers('60000:avg', 0)).toEqual([{ aggregation: 'avg', bucketMs: 60_000, retentionMs: 0 }]);
  });

  it.each([
    ['1m', /aggregation/],
    ['1m:median', /median/],
    ['0:avg', /bucket/],
    ['1m:avg:forever', /retention/],
    ['1m:avg:1d:x', /bucket:aggregation/],
    ['1m:avg,60s:avg', /twice/],
  ])('refuses %p', (text, message) => expect(() => parseRollupTiers(text, 0)).toThrow(message));
});

describe('bucketStart', () => {
  it('aligns to epoch 0', () => {
    expect(bucketStart(125_000, 60_000)).toBe(120_000);
    expect(bucketStart(60_000, 60_000)).toBe(60_000);
    expect(bucketStart(59_999, 60_000)).toBe(0);
  });
});
