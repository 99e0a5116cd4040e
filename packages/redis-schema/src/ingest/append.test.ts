import { createKeys } from '../keys';
import { appendArguments } from './append';

const keys = createKeys({ streamKey: 'events', deadLetterKey: 'dl', metricsKey: 'metrics', seriesPrefix: 'series' });
const options = { consumerGroup: 'workers', maxBacklog: 1_000, idempotencyWindowMs: 60_000 };

describe('appendArguments', () => {
  it('declares an idempotency key only for events with an id and points at it by index', () => {
    const events = [
      { source: 'a', metric: 'm', value: 1.5, occurredAt: '2026-01-01T00:00:00.000Z' },
      { source: 'b', metric: 'm', value: -2, occurredAt: '2026-01-01T00:00:01.000Z', eventId: 'e-1' },
    ];
    expect(appendArguments(keys, events, options)).toEqual({
      keys: ['events', 'events:idempotency:e-1'],
      args: [
        'workers',
        '1000',
        '60000',
        '0',
        'a',
        'm',
        '1.5',
        '2026-01-01T00:00:00.000Z',
        '',
        '2',
        'b',
        'm',
        '-2',
        '2026-01-01T00:00:01.000Z',
        'e-1',
      ],
    });
  });
});
