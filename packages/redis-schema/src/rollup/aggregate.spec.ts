import { MAX_EVENT_VALUE } from '../event';
import { aggregatePoints } from './aggregate';
import type { Point } from './store';
import { AGGREGATIONS, type Aggregation } from './tiers';

const points = (pairs: [number, number][]): Point[] => pairs.map(([timestampMs, value]) => ({ timestampMs, value }));

describe('aggregatePoints', () => {
  it('keeps every aggregate of the largest accepted values finite', () => {
    const huge = points([
      [0, MAX_EVENT_VALUE],
      [30_000, MAX_EVENT_VALUE],
      [59_999, 1],
    ]);
    for (const type of AGGREGATIONS) expect(Number.isFinite(aggregatePoints(huge, type, 60_000)[0]!.value)).toBe(true);
  });

  const input = points([
    [0, 4],
    [999, -2],
    [1000, 0.1],
    [1500, 0.2],
    [3999, 7],
  ]);

  it.each<[Aggregation, [number, number][]]>([
    [
      'avg',
      [
        [0, 1],
        [1000, (0.1 + 0.2) / 2],
        [3000, 7],
      ],
    ],
    [
      'sum',
      [
        [0, 2],
        [1000, 0.30000000000000004],
        [3000, 7],
      ],
    ],
    [
      'count',
      [
        [0, 2],
        [1000, 2],
        [3000, 1],
      ],
    ],
    [
      'min',
      [
        [0, -2],
        [1000, 0.1],
        [3000, 7],
      ],
    ],
    [
      'max',
      [
        [0, 4],
        [1000, 0.2],
        [3000, 7],
      ],
    ],
    [
      'first',
      [
        [0, 4],
        [1000, 0.1],
        [3000, 7],
      ],
    ],
    [
      'last',
      [
        [0, -2],
        [1000, 0.2],
        [3000, 7],
      ],
    ],
  ])('%s: buckets aligned to epoch 0, stamped with their start, empty ones left out', (type, expected) => {
    expect(aggregatePoints(input, type, 1000)).toEqual(points(expected));
  });

  it('answers nothing for no points', () => {
    expect(aggregatePoints([], 'avg', 1000)).toEqual([]);
  });

  it('sums from 0 as RedisTimeSeries does, so a lone -0 sums to 0', () => {
    expect(Object.is(aggregatePoints(points([[5, -0]]), 'sum', 10)[0]!.value, 0)).toBe(true);
    expect(Object.is(aggregatePoints(points([[5, -0]]), 'min', 10)[0]!.value, -0)).toBe(true);
  });
});
