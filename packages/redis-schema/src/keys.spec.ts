import {
  createAccessKeys,
  createKeys,
  parseSeriesMember,
  partitionIndex,
  partitionTag,
  seriesMember,
  seriesMemberBySource,
} from './keys';
import { CLUSTER_SLOTS, keySlot } from './cluster/key-slot';

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
    expect(keys.lateRaw(series)).toBe('telemetry:series:{temperature:sensor-1}:raw:late');
    expect(keys.rollup(series, { aggregation: 'avg', bucketMs: 60_000, retentionMs: 0 })).toBe(
      'telemetry:series:{temperature:sensor-1}:avg:60000',
    );
  });

  it('gives a raw series and its rollups one hash slot', () => {
    const tags = new Set([
      hashTag(keys.raw(series)),
      hashTag(keys.lateRaw(series)),
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
  const access = createAccessKeys({
    deviceKeysKey: 'telemetry:auth:device-keys',
    rateLimitPrefix: 'telemetry:rate-limit',
  });

  it('spells device keys and rate-limit buckets under their configured names', () => {
    expect(access.deviceKeys).toBe('telemetry:auth:device-keys');
    expect(access.rateLimitByKey('dev-1')).toBe('telemetry:rate-limit:key:dev-1');
    expect(access.rateLimitBySource('sensor-1')).toBe('telemetry:rate-limit:{sources}:sensor-1');
  });

  it('puts every source bucket in one hash slot, since one request may charge several', () => {
    expect(hashTag(access.rateLimitBySource('a'))).toBe(hashTag(access.rateLimitBySource('b')));
  });
});

describe('stream partitions', () => {
  const base = {
    streamKey: 'telemetry:events',
    deadLetterKey: 'telemetry:events:dead-letter',
    metricsKey: 'telemetry:metrics',
    seriesPrefix: 'telemetry:series',
  };

  it('keeps today’s names for one partition on a standalone server', () => {
    const keys = createKeys(base);
    const [only, ...others] = keys.partitions;
    expect(others).toEqual([]);
    expect(only).toMatchObject({ index: 0, stream: 'telemetry:events', deadLetter: 'telemetry:events:dead-letter' });
    expect(only!.idempotency('e-1')).toBe('telemetry:events:idempotency:e-1');
    expect(keys.partitionFor('any-source')).toBe(only);
  });

  it('tags every key of a partition alike, even a single partition on a cluster', () => {
    const [only] = createKeys({ ...base, cluster: true }).partitions;
    expect(only).toMatchObject({ stream: 'telemetry:events:{p0}', deadLetter: 'telemetry:events:dead-letter:{p0}' });
    for (const partition of createKeys({ ...base, streamPartitions: 16 }).partitions) {
      const slot = keySlot(partition.stream);
      expect(keySlot(partition.deadLetter)).toBe(slot);
      expect(keySlot(partition.idempotency('e-1'))).toBe(slot);
    }
  });

  it('keeps partition 0 as the stream of the single-stream names', () => {
    const keys = createKeys({ ...base, streamPartitions: 3 });
    expect(keys.stream).toBe(keys.partitions[0]!.stream);
    expect(keys.deadLetter).toBe(keys.partitions[0]!.deadLetter);
  });

  it('places partition i in the i-th equal share of the slot space', () => {
    for (const count of [2, 3, 7, 64, 256]) {
      const slots = createKeys({ ...base, streamPartitions: count }).partitions.map(({ stream }) => keySlot(stream));
      slots.forEach((slot, index) => {
        expect(slot).toBeGreaterThanOrEqual(Math.floor((index * CLUSTER_SLOTS) / count));
        expect(slot).toBeLessThan(Math.floor(((index + 1) * CLUSTER_SLOTS) / count));
      });
    }
    expect(partitionTag(0, 1)).toBe('p0');
  });

  it('sends a source to the same partition every time, spreading sources evenly', () => {
    expect(partitionIndex('sensor-1', 8)).toBe(partitionIndex('sensor-1', 8));
    // FNV-1a 32 of "a" is 0xe40c292c.
    expect(partitionIndex('a', 1_000_000)).toBe(0xe40c292c % 1_000_000);
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8_000; i++) counts[partitionIndex(`device-${i}`, 8)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(850);
    const keys = createKeys({ ...base, streamPartitions: 8 });
    expect(keys.partitionFor('device-7')).toBe(keys.partitions[partitionIndex('device-7', 8)]);
  });
});
