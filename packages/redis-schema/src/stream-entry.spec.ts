import { canonicalSample, decodeEntry, encodeEvent } from './stream-entry';

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
