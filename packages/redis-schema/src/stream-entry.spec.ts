import {
  EVENT_FIELD,
  canonicalSample,
  decodeEntry,
  encodeEvent,
  entryFields,
  eventFields,
  packEvent,
  packedSample,
  unpackEvent,
} from './stream-entry';

describe('canonicalSample', () => {
  const base = { source: 'sensor-1', metric: 'temp', value: '21.5', occurredAt: '2026-03-01T10:00:00.000Z' };
  const variants: Record<string, string>[] = [
    base,
    { ...base, eventId: 'id-1' },
    { ...base, eventId: 'bad id' },
    { ...base, source: 'a'.repeat(128) },
    { ...base, source: 'a'.repeat(129) },
    { ...base, source: '' },
    { ...base, metric: 'x:y' },
    { ...base, extra: '1' },
    { source: base.source, metric: base.metric, value: base.value },
    ...['0', '-0', '1.50', '1e3', '1e300', '1e400', '-1.7976931348623157e308', 'NaN', ' 1', '0x10', ''].map(
      (value) => ({ ...base, value }),
    ),
    ...[
      '2024-02-29T23:59:59.999Z',
      '2023-02-29T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
      '2026-03-01T24:00:00.000Z',
      '2026-03-01T23:60:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-04-31T00:00:00.000Z',
      '2026-03-01T10:00:00Z',
      '2026-03-01T10:00:00.000+00:00',
      '9999-12-31T23:59:59.999Z',
      '2026-03-01t10:00:00.000z',
      '2026-0a-01T10:00:00.000Z',
    ].map((occurredAt) => ({ ...base, occurredAt })),
  ];

  it('takes exactly the entries in the ingest-api shape that decodeEntry accepts, with the same sample', () => {
    let taken = 0;
    for (const fields of variants) {
      const sample = canonicalSample(fields);
      if (sample === undefined) continue;
      taken += 1;
      const decoded = decodeEntry(fields);
      expect({ fields, ok: decoded.ok }).toEqual({ fields, ok: true });
      if (!decoded.ok) continue;
      const { source, metric, value } = decoded.event;
      expect(sample).toEqual({ source, metric, value, timestampMs: decoded.timestampMs });
    }
    expect(taken).toBeGreaterThanOrEqual(10);
  });

  it('takes every entry the ingest-api writes', () => {
    for (let i = 0; i < 2_000; i++) {
      const event = {
        source: `device-${i}`,
        metric: 'm.x_y-z',
        value: (i - 1_000) / 7,
        occurredAt: new Date(1_700_000_000_000 + i * 7_919_017).toISOString(),
      };
      const fields = encodeEvent(i % 2 === 0 ? event : { ...event, eventId: `e-${i}` });
      expect(canonicalSample(fields)).toEqual({
        source: event.source,
        metric: event.metric,
        value: event.value,
        timestampMs: Date.parse(event.occurredAt),
      });
    }
  });
});

describe('the packed event field', () => {
  const event = { source: 'sensor-1', metric: 'temp.c', value: -21.5, occurredAt: '2026-03-01T10:00:00.000Z' };

  it('packs an event into one value that unpacks into the fields encodeEvent spells', () => {
    expect(packEvent(event)).toBe('sensor-1 temp.c -21.5 2026-03-01T10:00:00.000Z');
    expect(unpackEvent(packEvent(event))).toEqual(encodeEvent(event));
    const withId = { ...event, eventId: 'e-1' };
    expect(packEvent(withId)).toBe('sensor-1 temp.c -21.5 2026-03-01T10:00:00.000Z e-1');
    expect(unpackEvent(packEvent(withId))).toEqual(encodeEvent(withId));
    expect(Object.keys(unpackEvent(packEvent(withId))!)).toEqual(Object.keys(encodeEvent(withId)));
  });

  it('unpacks only four or five parts', () => {
    expect(unpackEvent('a b c')).toBeUndefined();
    expect(unpackEvent('a b c d e f')).toBeUndefined();
    expect(unpackEvent('')).toBeUndefined();
    expect(unpackEvent('a  b c')).toEqual({ source: 'a', metric: '', value: 'b', occurredAt: 'c' });
  });

  it("reads an entry's fields: a packed event's as its event fields, any other entry's as they are", () => {
    expect(entryFields([EVENT_FIELD, packEvent(event)])).toEqual(encodeEvent(event));
    expect(entryFields([EVENT_FIELD, 'not packed'])).toEqual({ event: 'not packed' });
    expect(entryFields([EVENT_FIELD, packEvent(event), 'note', 'x'])).toEqual({
      event: packEvent(event),
      note: 'x',
    });
    expect(entryFields(['source', 's', 'value', '1'])).toEqual({ source: 's', value: '1' });
    expect(entryFields([])).toEqual({});
    const odd = entryFields(['__proto__', 'x']);
    expect(Object.keys(odd)).toEqual(['__proto__']);
    expect(JSON.stringify(odd)).toBe('{"__proto__":"x"}');
    expect(eventFields({ [EVENT_FIELD]: packEvent(event) })).toEqual(encodeEvent(event));
    expect(eventFields({ source: 's' })).toEqual({ source: 's' });
  });

  it('takes from a packed entry exactly the sample canonicalSample takes from its unpacked fields', () => {
    const values = ['21.5', '0', '-0', '1e3', '1e400', 'NaN', '0x10', '', ' 1'];
    const times = ['2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00Z', '2023-02-29T00:00:00.000Z', ''];
    const names = ['sensor-1', 'a'.repeat(128), 'a'.repeat(129), 'x:y', '', 'two words'];
    const packings: string[] = ['', ' ', 'a b c', 'a b c d e f', 'sensor-1 temp 1 2026-03-01T10:00:00.000Z '];
    for (const value of values)
      for (const occurredAt of times)
        for (const name of names) {
          packings.push(`${name} temp ${value} ${occurredAt}`);
          packings.push(`sensor-1 ${name} ${value} ${occurredAt}`);
          packings.push(`sensor-1 temp ${value} ${occurredAt} ${name}`);
        }
    let taken = 0;
    for (const packed of packings) {
      const unpacked = unpackEvent(packed);
      const expected = unpacked === undefined ? undefined : canonicalSample(unpacked);
      expect({ packed, sample: packedSample([EVENT_FIELD, packed]) }).toEqual({ packed, sample: expected });
      if (expected !== undefined) taken += 1;
    }
    expect(taken).toBeGreaterThanOrEqual(20);
    expect(packedSample(['source', packEvent(event)])).toBeUndefined();
    expect(packedSample([EVENT_FIELD, packEvent(event), 'note', 'x'])).toBeUndefined();
  });
});
