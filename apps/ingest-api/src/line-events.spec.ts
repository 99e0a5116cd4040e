import fc from 'fast-check';
import { MAX_EVENT_VALUE, decodeEntry, encodeEvent } from '@redis-ingest/redis-schema';
import { eventsFromLines, type LineMapping } from './line-events';
import type { Precision } from './line-protocol';

const mapping: LineMapping = { sourceTag: 'source', fallbackSourceTag: 'host', otherTags: 'metric' };
const receivedAtMs = Date.parse('2026-03-01T10:00:00.000Z');
const map = (body: string, options: Partial<LineMapping> = {}) =>
  eventsFromLines(body, 'ns', { ...mapping, ...options }, receivedAtMs);

describe('eventsFromLines', () => {
  it('makes one event per numeric field, named <measurement>.<field>', () => {
    const batch = map('env,source=sensor-1 temperature=21.5,humidity=40i 1772359200123456789');
    expect(batch).toEqual({
      events: [
        { source: 'sensor-1', metric: 'env.temperature', value: 21.5, occurredAt: '2026-03-01T10:00:00.123Z' },
        { source: 'sensor-1', metric: 'env.humidity', value: 40, occurredAt: '2026-03-01T10:00:00.123Z' },
      ],
      lines: [1, 1],
      rejected: [],
    });
  });

  it('names a field called value by the measurement alone', () => {
    expect(map('temperature,source=s value=3').events).toEqual([
      { source: 's', metric: 'temperature', value: 3, occurredAt: '2026-03-01T10:00:00.000Z' },
    ]);
  });

  it('turns booleans into 1 and 0 and keeps unsigned integers', () => {
    expect(
      map('door,source=s open=T,locked=false,count=7u').events.map(({ metric, value }) => [metric, value]),
    ).toEqual([
      ['door.open', 1],
      ['door.locked', 0],
      ['door.count', 7],
    ]);
  });

  it('takes the source from host when the point has no source tag, and source first when it has both', () => {
    expect(map('m,host=web-1 f=1').events[0]!.source).toBe('web-1');
    expect(map('m,host=web-1,source=dev-2 f=1').events[0]).toMatchObject({ source: 'dev-2', metric: 'm.f.host-web-1' });
  });

  it('takes the configured source tag', () => {
    expect(
      map('m,device=d-9,source=x f=1', { sourceTag: 'device', fallbackSourceTag: 'device' }).events[0],
    ).toMatchObject({
      source: 'd-9',
      metric: 'm.f.source-x',
    });
  });

  it('appends the other tags to the metric, sorted by key, so each tag set is its own series', () => {
    const batch = map('cpu,host=web-1,cpu=cpu0,mode=user usage=1\ncpu,mode=user,cpu=cpu1,host=web-1 usage=2');
    expect(batch.events.map(({ source, metric }) => [source, metric])).toEqual([
      ['web-1', 'cpu.usage.cpu-cpu0.mode-user'],
      ['web-1', 'cpu.usage.cpu-cpu1.mode-user'],
    ]);
  });

  it('refuses a line with other tags when told to', () => {
    const batch = map('cpu,host=web-1,cpu=cpu0,mode=user usage=1\ncpu,host=web-1 usage=2', { otherTags: 'refuse' });
    expect(batch.events.map(({ metric }) => metric)).toEqual(['cpu.usage']);
    expect(batch.rejected).toEqual([
      { line: 1, message: 'tags other than host are refused here (INGEST_LINE_OTHER_TAGS=refuse): cpu, mode' },
    ]);
  });

  it('stamps a point without a timestamp with the time of receipt', () => {
    expect(map('m,source=s f=1').events[0]!.occurredAt).toBe('2026-03-01T10:00:00.000Z');
  });

  it('reads the timestamp at the given precision', () => {
    const batch = eventsFromLines('m,source=s f=1 1772359200', 's', mapping, receivedAtMs);
    expect(batch.events[0]!.occurredAt).toBe('2026-03-01T10:00:00.000Z');
  });

  it.each([
    ['no source tag', 'm,region=eu f=1', 'no source or host tag to take the source from'],
    [
      'a source breaking the name rule',
      'm,source=a:b f=1',
      'source "a:b" (tag source) must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
    ],
    [
      'a source with an escaped space',
      'm,host=my\\ host f=1',
      'source "my host" (tag host) must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
    ],
    ['a string field', 'm,source=s f=1,note="hi"', 'field "note" is a string; only numbers and booleans become events'],
    [
      'a measurement breaking the name rule',
      'we{ather},source=s f=1',
      'metric "we{ather}.f" must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
    ],
    [
      'a tag value breaking the name rule',
      'disk,host=h,path=/ used=1',
      'metric "disk.used.path-/" must be 1 to 128 characters from A-Z a-z 0-9 _ . -',
    ],
    [
      'a metric over 128 characters',
      `m,source=s ${'f'.repeat(127)}=1`,
      `metric "m.${'f'.repeat(127)}" must be 1 to 128 characters from A-Z a-z 0-9 _ . -`,
    ],
    [
      'a timestamp before 1970',
      'm,source=s f=1 -1',
      'timestamp -1 (precision ns) is before 1970 or after the year 9999',
    ],
    [
      'a timestamp after the year 9999',
      'm,source=s f=1 253402300800000000000',
      'timestamp 253402300800000000000 (precision ns) is before 1970 or after the year 9999',
    ],
    [
      'a value beyond the largest magnitude',
      'm,source=s f=1,g=-1e300',
      'field "g": -1e+300 is beyond ±1e+292, the largest magnitude a value may have',
    ],
  ])('rejects the whole line for %s, keeping the others', (_name, line, message) => {
    const batch = map(`m,source=ok f=1\n${line}\nm,source=ok f=2`);
    expect(batch.events.map(({ value }) => value)).toEqual([1, 2]);
    expect(batch.lines).toEqual([1, 3]);
    expect(batch.rejected).toEqual([{ line: 2, message }]);
  });

  it('lists parse and mapping rejections together in line order', () => {
    const batch = map('m,region=eu f=1\nm f=\nm,source=s f=1');
    expect(batch.rejected.map(({ line }) => line)).toEqual([1, 2]);
  });

  it('refuses a line of a million tags without building its name', () => {
    const tags = Array.from({ length: 1_000_000 }, (_, i) => `,t${i}=v`).join('');
    const batch = map(`m,source=s${tags} f=1`);
    expect(batch.events).toEqual([]);
    expect(batch.rejected).toEqual([{ line: 1, message: 'its tags make the metric name longer than 128 characters' }]);
  });

  it('takes a value of the largest magnitude', () => {
    expect(map(`m,source=s f=${MAX_EVENT_VALUE},g=-${MAX_EVENT_VALUE}`).events.map(({ value }) => value)).toEqual([
      MAX_EVENT_VALUE,
      -MAX_EVENT_VALUE,
    ]);
  });

  // Seeded, so a failure names a run that replays as it was (FC_SEED overrides).
  const seed = Number(process.env.FC_SEED ?? 14);

  it('makes only events the worker stores as they are', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);
    const value = fc.oneof(
      fc.double({ noNaN: true }).map(String),
      fc.constantFrom('1e292', '-1e292', '1.0000001e292', '1e308', '-0', '5e-324', 't', 'FALSE'),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => `${n}i`),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => `${n}u`),
    );
    const timestamp = fc.option(fc.bigInt({ min: -1n, max: 10n ** 19n }).map(String));
    const precision = fc.constantFrom<Precision>('ns', 'us', 'ms', 's', 'm', 'h');
    fc.assert(
      fc.property(name, name, name, value, timestamp, precision, (measurement, source, field, v, at, unit) => {
        const line = `${measurement},source=${source} ${field}=${v}${at === null ? '' : ` ${at}`}`;
        const { events, rejected } = eventsFromLines(line, unit, mapping, receivedAtMs);
        expect(events.length + rejected.length).toBe(1);
        for (const event of events) {
          expect(decodeEntry(encodeEvent(event))).toMatchObject({
            ok: true,
            event: { ...event, value: event.value + 0 },
          });
        }
      }),
      { seed, numRuns: 3_000 },
    );
  });
});
