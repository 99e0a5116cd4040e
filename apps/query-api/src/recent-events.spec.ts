import { EVENT_FIELD, packEvent } from '@redis-ingest/redis-schema';
import { toRecentEvent } from './recent-events';

describe('toRecentEvent', () => {
  it('reads a decimal value as a number', () => {
    const fields = { source: 's', metric: 'm', value: '-1.25e-7', occurredAt: '2026-01-02T03:04:05.678Z' };
    expect(toRecentEvent('1-0', fields)).toEqual({ id: '1-0', ...fields, value: -1.25e-7 });
  });

  it("reads an entry in the ingest-api's packed shape", () => {
    const event = { source: 's', metric: 'm', value: 21.5, occurredAt: '2026-01-02T03:04:05.678Z', eventId: 'e-1' };
    expect(toRecentEvent('1-0', { [EVENT_FIELD]: packEvent(event) })).toEqual({
      id: '1-0',
      source: 's',
      metric: 'm',
      value: 21.5,
      occurredAt: event.occurredAt,
    });
  });

  it.each(['hot', '', ' 5', '0x10', '1e400', 'NaN'])('keeps the value %p as text', (value) => {
    expect(toRecentEvent('1-0', { source: 's', metric: 'm', value, occurredAt: 'x' }).value).toBe(value);
  });

  it('reports missing fields as null', () => {
    expect(toRecentEvent('1-1', { note: 'by hand' })).toEqual({
      id: '1-1',
      source: null,
      metric: null,
      value: null,
      occurredAt: null,
    });
  });
});
