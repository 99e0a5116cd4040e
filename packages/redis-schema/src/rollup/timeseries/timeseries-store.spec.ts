import { createClient } from '@redis/client';
import { createKeys, type KeyConfig } from '../../keys';
import type { RedisClient } from '../../redis-client';
import type { RollupStoreOptions } from '../store';
import { TIME_SERIES_ERRORS } from './replies';
import { metricRangeAcrossSources } from './series-labels';
import { TooManySourcesError } from '../store';
import {
  acrossSourcesCommand,
  acrossSourcesResult,
  rangeCommand,
  seriesCreationCommands,
  TimeSeriesRollupStore,
} from './timeseries-store';

const keyConfig: KeyConfig = {
  streamKey: 'telemetry:events',
  deadLetterKey: 'telemetry:events:dead-letter',
  metricsKey: 'telemetry:metrics',
  seriesPrefix: 'telemetry:series',
};
const options: RollupStoreOptions = {
  keys: createKeys(keyConfig),
  rawRetentionMs: 604_800_000,
  tiers: [
    { aggregation: 'avg', bucketMs: 60_000, retentionMs: 2_592_000_000 },
    { aggregation: 'max', bucketMs: 3_600_000, retentionMs: 0 },
  ],
};
const series = { metric: 'cpu', source: 'sensor-7' };

describe('series creation', () => {
  it('creates raw, both rollups, both rules, then indexes, tolerating only "already done"', () => {
    expect(seriesCreationCommands(options, series)).toEqual([
      {
        args: [
          'TS.CREATE',
          'telemetry:series:{cpu:sensor-7}:raw',
          'RETENTION',
          '604800000',
          'DUPLICATE_POLICY',
          'LAST',
          'LABELS',
          'metric',
          'cpu',
          'source',
          'sensor-7',
          'kind',
          'raw',
          'deployment',
          'telemetry:metrics',
        ],
        alreadyDone: TIME_SERIES_ERRORS.keyExists,
      },
      {
        args: [
          'TS.CREATE',
          'telemetry:series:{cpu:sensor-7}:avg:60000',
          'RETENTION',
          '2592000000',
          'LABELS',
          'metric',
          'cpu',
          'source',
          'sensor-7',
          'kind',
          'rollup',
          'aggregation',
          'avg',
          'bucket_ms',
          '60000',
          'deployment',
          'telemetry:metrics',
        ],
        alreadyDone: TIME_SERIES_ERRORS.keyExists,
      },
      {
        args: [
          'TS.CREATE',
          'telemetry:series:{cpu:sensor-7}:max:3600000',
          'RETENTION',
          '0',
          'LABELS',
          'metric',
          'cpu',
          'source',
          'sensor-7',
          'kind',
          'rollup',
          'aggregation',
          'max',
          'bucket_ms',
          '3600000',
          'deployment',
          'telemetry:metrics',
        ],
        alreadyDone: TIME_SERIES_ERRORS.keyExists,
      },
      {
        args: [
          'TS.CREATERULE',
          'telemetry:series:{cpu:sensor-7}:raw',
          'telemetry:series:{cpu:sensor-7}:avg:60000',
          'AGGREGATION',
          'avg',
          '60000',
        ],
        alreadyDone: TIME_SERIES_ERRORS.ruleExists,
      },
      {
        args: [
          'TS.CREATERULE',
          'telemetry:series:{cpu:sensor-7}:raw',
          'telemetry:series:{cpu:sensor-7}:max:3600000',
          'AGGREGATION',
          'max',
          '3600000',
        ],
        alreadyDone: TIME_SERIES_ERRORS.ruleExists,
      },
      { args: ['ZADD', 'telemetry:metrics', '0', 'cpu:sensor-7'] },
      { args: ['ZADD', 'telemetry:metrics:by-source', '0', 'sensor-7:cpu'] },
    ]);
  });

  it('creates only the raw series and its index entries without tiers', () => {
    expect(seriesCreationCommands({ ...options, tiers: [] }, series).map(({ args }) => args[0])).toEqual([
      'TS.CREATE',
      'ZADD',
      'ZADD',
    ]);
  });
});

describe('range commands', () => {
  const query = { fromMs: 60_000, toMs: 180_000, limit: 50 };

  it('reads raw samples without aggregation', () => {
    expect(rangeCommand(options, series, query)).toEqual([
      'TS.RANGE',
      'telemetry:series:{cpu:sensor-7}:raw',
      '60000',
      '180000',
      'COUNT',
      '50',
    ]);
  });

  it('reads a matching tier with LATEST, so the open bucket is included', () => {
    expect(rangeCommand(options, series, { ...query, aggregation: { type: 'avg', bucketMs: 60_000 } })).toEqual([
      'TS.RANGE',
      'telemetry:series:{cpu:sensor-7}:avg:60000',
      '60000',
      '180000',
      'LATEST',
      'COUNT',
      '50',
    ]);
  });

  it('aggregates raw samples when no tier matches both type and bucket', () => {
    expect(rangeCommand(options, series, { ...query, aggregation: { type: 'max', bucketMs: 60_000 } })).toEqual([
      'TS.RANGE',
      'telemetry:series:{cpu:sensor-7}:raw',
      '60000',
      '180000',
      'COUNT',
      '50',
      'AGGREGATION',
      'max',
      '60000',
    ]);
  });

  it('asks nothing for an empty limit (the module refuses COUNT 0) or an inverted range', () => {
    expect(rangeCommand(options, series, { ...query, limit: 0 })).toBeNull();
    expect(rangeCommand(options, series, { ...query, fromMs: 180_001 })).toBeNull();
  });
});

describe('queries across sources', () => {
  it('reduces one metric over its raw series in this deployment', () => {
    expect(
      metricRangeAcrossSources('telemetry:metrics', {
        metric: 'cpu',
        fromMs: 0,
        toMs: 3_600_000,
        count: 60,
        aggregation: { type: 'avg', bucketMs: 60_000 },
        reducer: 'max',
      }),
    ).toEqual([
      'TS.MRANGE',
      '0',
      '3600000',
      'WITHLABELS',
      'COUNT',
      '60',
      'AGGREGATION',
      'avg',
      '60000',
      'FILTER',
      'metric=cpu',
      'kind=raw',
      'deployment=telemetry:metrics',
      'GROUPBY',
      'metric',
      'REDUCE',
      'max',
    ]);
  });

  const acrossQuery = {
    fromMs: 60_000,
    toMs: 240_000,
    limit: 2,
    aggregation: { type: 'max', bucketMs: 60_000 },
    reduce: 'sum',
  } as const;

  it('asks the store query with its limit as COUNT and its reducer', () => {
    expect(acrossSourcesCommand(options, 'cpu', acrossQuery)).toEqual([
      'TS.MRANGE',
      '60000',
      '240000',
      'WITHLABELS',
      'COUNT',
      '2',
      'AGGREGATION',
      'max',
      '60000',
      'FILTER',
      'metric=cpu',
      'kind=raw',
      'deployment=telemetry:metrics',
      'GROUPBY',
      'metric',
      'REDUCE',
      'sum',
    ]);
  });

  it('asks nothing for an empty limit or an inverted range', () => {
    expect(acrossSourcesCommand(options, 'cpu', { ...acrossQuery, limit: 0 })).toBeNull();
    expect(acrossSourcesCommand(options, 'cpu', { ...acrossQuery, fromMs: 240_001 })).toBeNull();
  });

  const groupReply = (sourceKeys: string, samples: [number, string][]) => [
    [
      'metric=cpu',
      [
        ['metric', 'cpu'],
        ['__reducer__', 'sum'],
        ['__source__', sourceKeys],
      ],
      samples,
    ],
  ];

  it('counts the keys the group reduced and keeps the first `limit` points', () => {
    const keys = ['a', 'b', 'c'].map((source) => options.keys.raw({ metric: 'cpu', source })).join(',');
    const reply = groupReply(keys, [
      [60_000, '3'],
      [120_000, '4.5E0'],
      [180_000, '1'],
    ]);
    expect(acrossSourcesResult(options, 'cpu', acrossQuery, reply)).toEqual({
      sources: 3,
      points: [
        { timestampMs: 60_000, value: 3 },
        { timestampMs: 120_000, value: 4.5 },
      ],
    });
  });

  it('counts keys whose configured prefix holds a comma', () => {
    const withComma = { ...options, keys: createKeys({ ...keyConfig, seriesPrefix: 'a,b' }) };
    const keys = ['x', 'y'].map((source) => withComma.keys.raw({ metric: 'cpu', source })).join(',');
    expect(acrossSourcesResult(withComma, 'cpu', acrossQuery, groupReply(keys, [])).sources).toBe(2);
  });

  it('answers no sources for a metric without series, and refuses more than allowed', () => {
    expect(acrossSourcesResult(options, 'cpu', acrossQuery, [])).toEqual({ sources: 0, points: [] });
    const keys = ['a', 'b', 'c'].map((source) => options.keys.raw({ metric: 'cpu', source })).join(',');
    expect(() => acrossSourcesResult(options, 'cpu', { ...acrossQuery, maxSources: 2 }, groupReply(keys, []))).toThrow(
      TooManySourcesError,
    );
  });
});

describe('TimeSeriesRollupStore', () => {
  // Construction sends nothing, so the client never needs to connect.
  const client = createClient() as unknown as RedisClient;

  it.each(['telemetry metrics', 'metrics(1)', 'a,b', 'a=b', 'a!b', '"quoted"', ''])(
    'refuses a series index key %p that cannot be a filterable label value',
    (metricsKey) => {
      const keys = createKeys({ ...keyConfig, metricsKey });
      expect(() => new TimeSeriesRollupStore(client, { ...options, keys })).toThrow('labels this deployment');
    },
  );

  it('accepts the usual key names', () => {
    const store = new TimeSeriesRollupStore(client, options);
    expect(store.backend).toBe('timeseries');
    expect(store.tiers).toBe(options.tiers);
  });
});
