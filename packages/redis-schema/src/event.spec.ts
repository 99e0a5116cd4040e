import { FormatRegistry } from '@sinclair/typebox';
import fc from 'fast-check';
import { MAX_EVENT_VALUE, registerEventFormats, validateEvent } from './event';
import { EVENT_FIELD, decodeEntry, encodeEvent, entryFields, packEvent, packedSample } from './stream-entry';

const receivedAt = Date.parse('2026-01-02T03:04:05.678Z');

describe('validateEvent', () => {
  it('fills occurredAt with the time of receipt', () => {
    const result = validateEvent({ source: 'sensor-1', metric: 'temp', value: 21.5 }, receivedAt);
    expect(result).toEqual({
      ok: true,
      timestampMs: receivedAt,
      event: { source: 'sensor-1', metric: 'temp', value: 21.5, occurredAt: '2026-01-02T03:04:05.678Z' },
    });
  });

  it('normalises occurredAt with an offset to UTC', () => {
    const result = validateEvent({ source: 's', metric: 'm', value: 1, occurredAt: '2026-01-02T05:04:05+02:00' });
    expect(result.ok && result.event.occurredAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it('answers with toISOString() of the instant for every spelling it accepts, its own spelling included', () => {
    const spellings = fc.tuple(
      fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
      fc.constantFrom('iso', 'lower', 'seconds', 'offset', 'micros'),
    );
    fc.assert(
      fc.property(spellings, ([date, spelling]) => {
        const iso = date.toISOString();
        const text = {
          iso,
          lower: iso.toLowerCase(),
          seconds: `${iso.slice(0, 19)}Z`,
          offset: `${iso.slice(0, 23)}+00:00`,
          micros: `${iso.slice(0, 23)}999Z`,
        }[spelling];
        const result = validateEvent({ source: 's', metric: 'm', value: 1, occurredAt: text });
        const expectedMs = spelling === 'seconds' ? Math.floor(date.getTime() / 1000) * 1000 : date.getTime();
        expect(result).toMatchObject({
          ok: true,
          timestampMs: expectedMs,
          event: { occurredAt: new Date(expectedMs).toISOString() },
        });
      }),
      { seed: 20261130, numRuns: 2_000 },
    );
  });

  it.each([
    ['a brace in source', { source: 'a{b', metric: 'm', value: 1 }, '/source'],
    ['a colon in metric', { source: 's', metric: 'a:b', value: 1 }, '/metric'],
    ['a space', { source: 'a b', metric: 'm', value: 1 }, '/source'],
    ['a control character', { source: 'a\nb', metric: 'm', value: 1 }, '/source'],
    ['non-ASCII', { source: 'säule', metric: 'm', value: 1 }, '/source'],
    ['an empty metric', { source: 's', metric: '', value: 1 }, '/metric'],
    ['a name over 128 characters', { source: 'x'.repeat(129), metric: 'm', value: 1 }, '/source'],
    ['a string value', { source: 's', metric: 'm', value: '1' }, '/value'],
    ['NaN', { source: 's', metric: 'm', value: Number.NaN }, '/value'],
    ['Infinity', { source: 's', metric: 'm', value: Number.POSITIVE_INFINITY }, '/value'],
    ['a date without offset', { source: 's', metric: 'm', value: 1, occurredAt: '2026-01-02T03:04:05' }, '/occurredAt'],
    ['an impossible date', { source: 's', metric: 'm', value: 1, occurredAt: '2026-02-30T03:04:05Z' }, '/occurredAt'],
    ['a date before 1970', { source: 's', metric: 'm', value: 1, occurredAt: '1969-12-31T23:59:59Z' }, '/occurredAt'],
    ['an unknown field', { source: 's', metric: 'm', value: 1, unit: 'C' }, '/unit'],
  ])('rejects %s', (_, input, path) => {
    const result = validateEvent(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((error) => error.path)).toContain(path);
  });

  it('lists every field error', () => {
    const result = validateEvent({ metric: 'a b', value: 'x' });
    const paths = !result.ok ? result.errors.map((error) => error.path) : [];
    expect(paths).toEqual(expect.arrayContaining(['/source', '/metric', '/value']));
  });

  it('gives one message per field', () => {
    const result = validateEvent({ source: 's', value: 1 });
    expect(!result.ok && result.errors).toEqual([{ path: '/metric', message: 'Expected required property' }]);
  });

  it("registers its own date-time format over another module's, and registering again changes nothing", () => {
    const event = { source: 's', metric: 'm', value: 1, occurredAt: '2026-02-30T00:00:00Z' };
    expect(validateEvent(event).ok).toBe(false);
    const lenient = () => true;
    FormatRegistry.Set('date-time', lenient);
    registerEventFormats();
    const ours = FormatRegistry.Get('date-time');
    expect(ours).not.toBe(lenient);
    registerEventFormats();
    expect(FormatRegistry.Get('date-time')).toBe(ours);
    expect(validateEvent(event).ok).toBe(false);
  });

  it('rejects what is not an object', () => {
    expect(validateEvent([1, 2]).ok).toBe(false);
    expect(validateEvent(null).ok).toBe(false);
  });
});

describe('stream entries', () => {
  it('round-trips an event through its stream fields', () => {
    const event = { source: 's', metric: 'm', value: -1.25e-7, occurredAt: '2026-01-02T03:04:05.678Z' };
    expect(encodeEvent(event)).toEqual({ source: 's', metric: 'm', value: '-1.25e-7', occurredAt: event.occurredAt });
    expect(decodeEntry(encodeEvent(event))).toEqual({ ok: true, event, timestampMs: receivedAt });
  });

  it.each(['', ' 5', '0x10', '12abc', 'NaN', 'Infinity', '1e400'])('rejects the value field %p', (value) => {
    const result = decodeEntry({ source: 's', metric: 'm', value, occurredAt: '2026-01-02T03:04:05Z' });
    expect(!result.ok && result.errors[0]?.path).toBe('/value');
  });

  it('requires occurredAt, so a redelivery lands on the same timestamp', () => {
    expect(decodeEntry({ source: 's', metric: 'm', value: '1' }).ok).toBe(false);
  });
});

describe('one event rule for ingest and worker', () => {
  const event = (fields: Record<string, unknown>) => ({ source: 's', metric: 'm', value: 1, ...fields });

  it('refuses an offset that carries the instant past the year 9999, which has no four-digit UTC form', () => {
    expect(validateEvent(event({ occurredAt: '9999-12-31T23:59:59-00:01' })).ok).toBe(false);
    expect(validateEvent(event({ occurredAt: '9999-12-31T23:59:59.999Z' })).ok).toBe(true);
  });

  it('refuses values whose bucket sums could overflow to Infinity', () => {
    expect(validateEvent(event({ value: 1.7976931348623157e308 })).ok).toBe(false);
    expect(validateEvent(event({ value: -MAX_EVENT_VALUE })).ok).toBe(true);
  });

  // Seeded, so a failure names a run that replays as it was (FC_SEED overrides).
  const seed = Number(process.env.FC_SEED ?? 1_136);

  it('stores whatever ingest accepts: the entry written for any accepted event decodes to the same event', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/);
    const offset = fc.tuple(
      fc.constantFrom('+', '-'),
      fc.integer({ min: 0, max: 23 }),
      fc.integer({ min: 0, max: 59 }),
    );
    const anyTime = fc
      .tuple(
        fc.integer({ min: 1970, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.option(fc.integer({ min: 0, max: 999_999_999 })),
        fc.option(offset),
      )
      .map(([year, month, day, hour, minute, second, fraction, zone]) => {
        const pad = (n: number, width = 2) => String(n).padStart(width, '0');
        const tail = zone === null ? 'Z' : `${zone[0]}${pad(zone[1])}:${pad(zone[2])}`;
        return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction === null ? '' : `.${fraction}`}${tail}`;
      });
    // The edges an offset moves across: past 9999 and before 1970.
    const occurredAt = fc.oneof(
      anyTime,
      fc.constantFrom('9999-12-31T23:59:59-00:01', '9999-12-31T23:59:59+00:01', '1970-01-01T00:00:00+00:01'),
    );
    const value = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(MAX_EVENT_VALUE, -MAX_EVENT_VALUE, 5e-324, -0));
    fc.assert(
      fc.property(name, name, value, fc.option(occurredAt), fc.option(name), (source, metric, v, at, eventId) => {
        const input = {
          source,
          metric,
          value: v,
          ...(at === null ? {} : { occurredAt: at }),
          ...(eventId === null ? {} : { eventId }),
        };
        const accepted = validateEvent(input, receivedAt);
        if (!accepted.ok) return;
        const entry = [EVENT_FIELD, packEvent(accepted.event)];
        const stored = decodeEntry(entryFields(entry));
        // -0 is written as "0": the same number to every aggregate.
        const event = { ...accepted.event, value: accepted.event.value + 0 };
        expect(stored).toEqual({ ok: true, timestampMs: accepted.timestampMs, event });
        expect(packedSample(entry)).toEqual({
          source: event.source,
          metric: event.metric,
          value: event.value,
          timestampMs: accepted.timestampMs,
        });
      }),
      { seed, numRuns: 2_000 },
    );
  });
});
