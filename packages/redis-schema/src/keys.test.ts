import { createAccessKeys, createKeys, parseSeriesMember, seriesMember, seriesMemberBySource } from './keys';

const keys = createKeys({
  streamKey: 'telemetry:events',
  deadLetterKey: 'telemetry:events:dead-letter',
  metricsKey: 'telemetry:metrics',
  seriesPrefix: 'telemetry:series',
});
const series = { metric: 'temperature', source: 'sensor-1' };

function hashTag(key: string): string | undefined {
  return /\{([^}]+)\}/.exec(key)?.[1];
}

describe('keys', () => {
  it('keeps the tutorial names for the streams and the series set', () => {
    expect(keys.stream).toBe('telemetry:events');
    expect(keys.deadLetter).toBe('telemetry:events:dead-letter');
    expect(keys.seriesIndex).toBe('telemetry:metrics');
  });

  it('spells series keys under the prefix with the series hash tag', () => {
    expect(keys.raw(series)).toBe('telemetry:series:{temperature:sensor-1}:raw');
    expect(keys.rollup(series, { aggregation: 'avg', bucketMs: 60_000, retentionMs: 0 })).toBe(
      'telemetry:series:{temperature:sensor-1}:avg:60000',
    );
  });

  it('gives a raw series and its rollups one hash slot', () => {
    const tags = new Set([
      hashTag(keys.raw(series)),
      hashTag(keys.rollup(series, { aggregation: 'max', bucketMs: 3_600_000, retentionMs: 0 })),
    ]);
    expect([...tags]).toEqual(['temperature:sensor-1']);
  });

  it('gives different series different hash tags', () => {
    expect(hashTag(keys.raw(series))).not.toBe(hashTag(keys.raw({ metric: 'temperature', source: 'sensor-2' })));
  });

  it('round-trips index members', () => {
    expect(seriesMember(series)).toBe('temperature:sensor-1');
    expect(seriesMemberBySource(series)).toBe('sensor-1:temperature');
    expect(parseSeriesMember(seriesMember(series))).toEqual(series);
  });
});

describe('access keys', () => {
  const access = createAccessKeys({ deviceKeysKey: 'telemetry:auth:device-keys', rateLimitPrefix: 'telemetry:rate-limit' });

  it('spells device keys and rate-limit buckets under their configured names', () => {
    expect(access.deviceKeys).toBe('telemetry:auth:device-keys');
    expect(access.rateLimitByKey('dev-1')).toBe('telemetry:rate-limit:key:dev-1');
    expect(access.rateLimitBySource('sensor-1')).toBe('telemetry:rate-limit:{sources}:sensor-1');
  });

  it('puts every source bucket in one hash slot, since one request may charge several', () => {
    expect(hashTag(access.rateLimitBySource('a'))).toBe(hashTag(access.rateLimitBySource('b')));
  });
});
