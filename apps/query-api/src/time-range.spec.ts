import { HttpError } from '@redis-ingest/service-kit';
import { DEFAULT_WINDOW_MS, parseTime, resolveRange } from './time-range';

describe('parseTime', () => {
  it('reads epoch milliseconds and ISO-8601 date-times with an offset', () => {
    expect(parseTime('0')).toBe(0);
    expect(parseTime('1767225600000')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T02:00:00.5+02:00')).toBe(Date.UTC(2026, 0, 1) + 500);
  });

  it.each(['', 'now', '-1', '1e3', '2026-01-01', '2026-01-01T00:00:00', '2026-02-30T00:00:00Z', '9999999999999999'])(
    'refuses %p',
    (text) => {
      expect(parseTime(text)).toBeUndefined();
    },
  );
});

describe('resolveRange', () => {
  const nowMs = 10_000_000;

  it('defaults to the hour before now, without aggregation', () => {
    expect(resolveRange({}, { nowMs, maxPoints: 10 })).toEqual({
      fromMs: nowMs - DEFAULT_WINDOW_MS,
      toMs: nowMs,
      aggregation: null,
    });
    expect(resolveRange({ to: '5000' }, { nowMs, maxPoints: 10 })).toEqual({
      fromMs: 0,
      toMs: 5_000,
      aggregation: null,
    });
  });

  it('uses the fallback aggregation only when neither agg nor bucket is given', () => {
    const fallback = { type: 'avg', bucketMs: 60_000 } as const;
    expect(resolveRange({ from: '0', to: '60000' }, { nowMs, maxPoints: 10, fallback }).aggregation).toBe(fallback);
    expect(
      resolveRange({ from: '0', to: '60000', agg: 'max', bucket: '30s' }, { nowMs, maxPoints: 10, fallback })
        .aggregation,
    ).toEqual({
      type: 'max',
      bucketMs: 30_000,
    });
  });

  it('bounds the buckets a range spans, the fallback included', () => {
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return (error as HttpError).details.errors;
      }
      throw new Error('accepted');
    };
    expect(resolveRange({ from: '0', to: '600000', agg: 'sum', bucket: '1m' }, { nowMs, maxPoints: 10 }).toMs).toBe(
      600_000,
    );
    expect(
      refusal(() => resolveRange({ from: '0', to: '600001', agg: 'sum', bucket: '1m' }, { nowMs, maxPoints: 10 })),
    ).toEqual([{ path: '/bucket', message: expect.stringContaining('10 buckets') }]);
    const fallback = { type: 'avg', bucketMs: 1 } as const;
    expect(refusal(() => resolveRange({ from: '0', to: '11' }, { nowMs, maxPoints: 10, fallback }))).toEqual([
      { path: '/bucket', message: expect.any(String) },
    ]);
  });
});
