import { tsCreate, tsCreateRule, tsGet, tsInfo, tsMAdd, tsMRange, tsRange } from './commands';

describe('TS.CREATE', () => {
  it('puts RETENTION, DUPLICATE_POLICY and LABELS in that order, labels as given', () => {
    expect(
      tsCreate('s:{cpu:a}:raw', {
        retentionMs: 604_800_000,
        duplicatePolicy: 'LAST',
        labels: { metric: 'cpu', source: 'a', kind: 'raw' },
      }),
    ).toEqual([
      'TS.CREATE',
      's:{cpu:a}:raw',
      'RETENTION',
      '604800000',
      'DUPLICATE_POLICY',
      'LAST',
      'LABELS',
      'metric',
      'cpu',
      'source',
      'a',
      'kind',
      'raw',
    ]);
  });

  it('leaves the duplicate policy to the server when unset', () => {
    expect(tsCreate('k', { retentionMs: 0, labels: { kind: 'rollup' } })).toEqual([
      'TS.CREATE',
      'k',
      'RETENTION',
      '0',
      'LABELS',
      'kind',
      'rollup',
    ]);
  });
});

describe('TS.CREATERULE', () => {
  it('names source, destination, then AGGREGATION type bucket without an alignment', () => {
    expect(tsCreateRule('raw', 'rollup', { type: 'avg', bucketMs: 60_000 })).toEqual([
      'TS.CREATERULE',
      'raw',
      'rollup',
      'AGGREGATION',
      'avg',
      '60000',
    ]);
  });
});

describe('TS.MADD', () => {
  it('sends key, timestamp, value triples in order, values as String(number)', () => {
    expect(
      tsMAdd([
        { key: 'a', timestampMs: 1_000, value: 0.5 },
        { key: 'b', timestampMs: 1_000, value: -0 },
        { key: 'a', timestampMs: 2_000, value: 1e21 },
        { key: 'c', timestampMs: 3_000, value: 5e-324 },
      ]),
    ).toEqual(['TS.MADD', 'a', '1000', '0.5', 'b', '1000', '0', 'a', '2000', '1e+21', 'c', '3000', '5e-324']);
  });
});

describe('TS.GET and TS.INFO', () => {
  it('take the key alone (no LATEST: a compaction reports its last closed bucket)', () => {
    expect(tsGet('k')).toEqual(['TS.GET', 'k']);
    expect(tsInfo('k')).toEqual(['TS.INFO', 'k']);
  });
});

describe('TS.RANGE', () => {
  it('limits raw samples with COUNT', () => {
    expect(tsRange('raw', 0, 120_000, { count: 100 })).toEqual(['TS.RANGE', 'raw', '0', '120000', 'COUNT', '100']);
  });

  it('puts LATEST before COUNT', () => {
    expect(tsRange('rollup', 60_000, 180_000, { latest: true, count: 5 })).toEqual([
      'TS.RANGE',
      'rollup',
      '60000',
      '180000',
      'LATEST',
      'COUNT',
      '5',
    ]);
  });

  it('puts AGGREGATION after COUNT and sends no ALIGN, so buckets align to epoch 0', () => {
    expect(tsRange('raw', 1_000, 9_000, { count: 10, aggregation: { type: 'max', bucketMs: 2_000 } })).toEqual([
      'TS.RANGE',
      'raw',
      '1000',
      '9000',
      'COUNT',
      '10',
      'AGGREGATION',
      'max',
      '2000',
    ]);
  });

  it('sends only the bounds without options', () => {
    expect(tsRange('raw', 5, 6)).toEqual(['TS.RANGE', 'raw', '5', '6']);
  });
});

describe('TS.MRANGE', () => {
  it('puts options before FILTER and GROUPBY after it', () => {
    expect(
      tsMRange(0, 60_000, {
        latest: true,
        count: 3,
        aggregation: { type: 'sum', bucketMs: 1_000 },
        filter: ['metric=cpu', 'kind=raw'],
        groupBy: { label: 'metric', reducer: 'avg' },
        withLabels: true,
      }),
    ).toEqual([
      'TS.MRANGE',
      '0',
      '60000',
      'LATEST',
      'WITHLABELS',
      'COUNT',
      '3',
      'AGGREGATION',
      'sum',
      '1000',
      'FILTER',
      'metric=cpu',
      'kind=raw',
      'GROUPBY',
      'metric',
      'REDUCE',
      'avg',
    ]);
  });

  it('needs only bounds and a filter', () => {
    expect(tsMRange(1, 2, { filter: ['kind=raw'] })).toEqual(['TS.MRANGE', '1', '2', 'FILTER', 'kind=raw']);
  });
});
