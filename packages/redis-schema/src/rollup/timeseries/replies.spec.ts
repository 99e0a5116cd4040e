import { SimpleError } from '@redis/client';
import {
  isTimeSeriesError,
  parseGroupedRange,
  parseLastSample,
  parseMAddReply,
  parseSamples,
  TIME_SERIES_ERRORS,
  toWriteResult,
  tolerating,
} from './replies';

describe('isTimeSeriesError', () => {
  it('recognises a module error with or without the ERR prefix', () => {
    expect(isTimeSeriesError(new SimpleError('ERR TSDB: key already exists'), TIME_SERIES_ERRORS.keyExists)).toBe(true);
    expect(isTimeSeriesError(new SimpleError('TSDB: key already exists'), TIME_SERIES_ERRORS.keyExists)).toBe(true);
  });

  it('refuses other texts, near misses and errors that are no Redis reply', () => {
    expect(isTimeSeriesError(new SimpleError('ERR TSDB: key already exists'), TIME_SERIES_ERRORS.ruleExists)).toBe(
      false,
    );
    expect(
      isTimeSeriesError(
        new SimpleError('ERR TSDB: the destination key already has a dst rule'),
        TIME_SERIES_ERRORS.ruleExists,
      ),
    ).toBe(false);
    expect(isTimeSeriesError(new Error('ERR TSDB: key already exists'), TIME_SERIES_ERRORS.keyExists)).toBe(false);
    expect(isTimeSeriesError(1000, TIME_SERIES_ERRORS.notASeries)).toBe(false);
  });
});

describe('tolerating', () => {
  it('passes the reply through', async () => {
    await expect(tolerating(Promise.resolve('OK'), TIME_SERIES_ERRORS.keyExists)).resolves.toBe('OK');
  });

  it('turns the named error into null', async () => {
    const rejected = Promise.reject(new SimpleError('ERR TSDB: the key does not exist'));
    await expect(tolerating(rejected, TIME_SERIES_ERRORS.keyMissing)).resolves.toBeNull();
  });

  it('lets every other failure through', async () => {
    const refused = new SimpleError('ERR TSDB: the key does not exist');
    await expect(tolerating(Promise.reject(refused), TIME_SERIES_ERRORS.keyExists)).rejects.toBe(refused);
  });
});

describe('TS.GET replies', () => {
  it('reads an empty array as no sample', () => {
    expect(parseLastSample([])).toBeNull();
  });

  it('reads the module number format', () => {
    expect(parseLastSample([60_000, '5E-1'])).toEqual({ timestampMs: 60_000, value: 0.5 });
    expect(parseLastSample([1, '1E21'])).toEqual({ timestampMs: 1, value: 1e21 });
    expect(parseLastSample([2, '26.666666666666668'])).toEqual({ timestampMs: 2, value: 26.666666666666668 });
  });

  it('refuses a shape it does not know', () => {
    expect(() => parseLastSample('OK')).toThrow('Unexpected TS.GET reply');
    expect(() => parseLastSample([1])).toThrow('Unexpected TS.GET reply');
  });
});

describe('TS.RANGE replies', () => {
  it('reads timestamp-value pairs in order', () => {
    expect(
      parseSamples([
        [0, '26.666666666666668'],
        [60_000, '100'],
        [120_000, '1E-1'],
      ]),
    ).toEqual([
      { timestampMs: 0, value: 26.666666666666668 },
      { timestampMs: 60_000, value: 100 },
      { timestampMs: 120_000, value: 0.1 },
    ]);
    expect(parseSamples([])).toEqual([]);
  });
});

describe('TS.MADD replies', () => {
  it('maps a timestamp to success and an element error to a failure carrying its text', () => {
    const reply = parseMAddReply([1_000, new SimpleError('ERR TSDB: Timestamp is older than retention'), 3_000], 3);
    expect(reply.map(toWriteResult)).toEqual([
      { ok: true },
      { ok: false, reason: 'ERR TSDB: Timestamp is older than retention' },
      { ok: true },
    ]);
  });

  it('refuses a reply that does not answer every sample', () => {
    expect(() => parseMAddReply([1_000], 2)).toThrow('Unexpected TS.MADD reply');
    expect(() => toWriteResult('1000')).toThrow('Unexpected TS.MADD reply');
  });
});

describe('TS.MRANGE GROUPBY replies', () => {
  it('reads each group name and its samples, with or without labels', () => {
    const withLabels = [
      [
        'metric=cpu',
        [
          ['metric', 'cpu'],
          ['__reducer__', 'max'],
          ['__source__', 'a,b'],
        ],
        [
          [1_000, '120'],
          [1_010, '1.5E1'],
        ],
      ],
    ];
    expect(parseGroupedRange(withLabels)).toEqual([
      {
        group: 'metric=cpu',
        labels: { metric: 'cpu', __reducer__: 'max', __source__: 'a,b' },
        points: [
          { timestampMs: 1_000, value: 120 },
          { timestampMs: 1_010, value: 15 },
        ],
      },
    ]);
    expect(parseGroupedRange([['metric=mem', [], []]])).toEqual([{ group: 'metric=mem', labels: {}, points: [] }]);
  });

  it('refuses a group that is not name, labels and samples', () => {
    expect(() => parseGroupedRange([['metric=cpu', []]])).toThrow('Unexpected TS.MRANGE reply');
    expect(() => parseGroupedRange([['metric=cpu', [['metric']], []]])).toThrow('Unexpected TS.MRANGE reply');
  });
});
