import { validateEvent } from '@redis-ingest/redis-schema';
import { parseRequestsPerSecond } from './ceiling';
import { parentPidFromStat, peakRssOf } from './processes';
import { percentile } from './stats';
import { batchBodies, deviceReading, freshOpenBodies, isInvalidIndex, singleEventBodies } from './workload';

describe('parseRequestsPerSecond', () => {
  it('reads the final figure after the progress lines', () => {
    const output =
      '\rXADD k * a b: rps=0.0 (overall: 0.0) avg_msec=-nan (overall: -nan)\r     \r' +
      'XADD k * a b: rps=412000.0 (overall: 410000.5) avg_msec=3.1\r     \r' +
      'XADD k * a b: 826710.75 requests per second, p50=3.303 msec\n';
    expect(parseRequestsPerSecond(output)).toBe(826_710.75);
  });

  it('fails loudly when redis-benchmark printed no result', () => {
    expect(() => parseRequestsPerSecond('ERR unknown command')).toThrow(/no "requests per second"/);
  });
});

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('the simulated fleet', () => {
  const fleet = { devices: 50, invalidShare: 0.1, baseMs: Date.UTC(2026, 0, 1) };

  it('makes exactly the asked share invalid, spread out', () => {
    const invalid = Array.from({ length: 1_000 }, (_, i) => i).filter((i) => isInvalidIndex(i, 0.1));
    expect(invalid).toHaveLength(100);
    expect(Math.max(...invalid.slice(1).map((index, i) => index - invalid[i]!))).toBe(10);
    expect(Array.from({ length: 1_000 }, (_, i) => isInvalidIndex(i, 0)).some(Boolean)).toBe(false);
  });

  it('never repeats a timestamp within a series', () => {
    const readings = Array.from({ length: 500 }, (_, i) => deviceReading(i, fleet.devices, fleet.baseMs));
    expect(new Set(readings.map(({ source, timestampMs }) => `${source}@${timestampMs}`)).size).toBe(500);
    expect(new Set(readings.map(({ source }) => source)).size).toBe(50);
  });

  it('sends events the ingest schema accepts, except the invalid share', () => {
    const events = batchBodies(fleet, 20, 5).flatMap((body) => JSON.parse(body) as unknown[]);
    expect(events).toHaveLength(100);
    expect(events.filter((event) => !validateEvent(event).ok)).toHaveLength(10);
    const singles = singleEventBodies(fleet, 100).map((body) => JSON.parse(body) as unknown);
    expect(singles.filter((event) => !validateEvent(event).ok)).toHaveLength(10);
  });

  it('makes open bodies that carry the fleet on, no reading repeating one its series has', () => {
    const next = freshOpenBodies(fleet, 30);
    const events = [next(), next(), next(), next()].flatMap(
      (open) => JSON.parse(`${open},{"tracer":true}]`) as Record<string, unknown>[],
    );
    const readings = events.filter((event) => event.tracer === undefined);
    expect(readings).toHaveLength(120);
    expect(readings.every((event) => validateEvent(event).ok)).toBe(true);
    const seen = readings.map(({ source, occurredAt }) => `${String(source)} ${String(occurredAt)}`);
    expect(new Set(seen).size).toBe(120);
    expect(readings[50]).toMatchObject({
      source: 'device-0',
      occurredAt: new Date(fleet.baseMs + 1_000).toISOString(),
    });
  });
});

describe('/proc readers', () => {
  it('finds the parent pid even when the command name holds spaces and parentheses', () => {
    expect(parentPidFromStat('4242 (node (x) y) S 17 4242 4242 0 -1')).toBe(17);
  });

  it('reads the peak resident set of a live process and nothing for a gone one', () => {
    expect(peakRssOf(process.pid)).toBeGreaterThan(1_048_576);
    expect(peakRssOf(2 ** 22 + 1)).toBeUndefined();
  });
});
