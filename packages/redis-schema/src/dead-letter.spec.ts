import { createKeys } from './keys';
import {
  deadLetterArguments,
  deadLetterFields,
  parseDeadLetter,
  replayFields,
  splitReplayHistory,
} from './dead-letter';

const event = { source: 's', metric: 'm', value: 'oops', occurredAt: '2026-01-01T00:00:00Z' };
const first = {
  messageId: '1-0',
  reason: '/value: Expected number',
  failedAt: '2026-01-01T00:00:01.000Z',
  consumer: 'w1',
};

describe('dead letters', () => {
  it('writes the five documented fields for a first failure', () => {
    expect(deadLetterFields(first, event, [])).toEqual({ ...first, payload: JSON.stringify(event) });
  });

  it('carries the history through a replay and a second failure', () => {
    const deadLetter = parseDeadLetter('5-0', deadLetterFields(first, event, []));
    expect(deadLetter).toEqual({ id: '5-0', ...first, payload: event, history: [] });

    const replayed = replayFields(deadLetter);
    const { fields, history } = splitReplayHistory(replayed);
    expect(fields).toEqual(event);
    expect(history).toEqual([first]);

    const second = {
      messageId: '9-0',
      reason: '/value: Expected number',
      failedAt: '2026-01-01T00:01:00.000Z',
      consumer: 'w2',
    };
    const again = parseDeadLetter('10-0', deadLetterFields(second, fields, history));
    expect(again.history).toEqual([first]);
    expect(again.payload).toEqual(event);
    expect(splitReplayHistory(replayFields(again)).history).toEqual([first, second]);
  });

  it('keeps the MQTT topic of a refused payload, also through a replay', () => {
    const refused = { ...first, messageId: 'mqtt:7', topic: 'telemetry/s/m', consumer: 'bridge-1' };
    const fields = deadLetterFields(refused, { payload: 'warm' }, []);
    expect(fields).toEqual({ ...refused, payload: JSON.stringify({ payload: 'warm' }) });
    const deadLetter = parseDeadLetter('3-0', fields);
    expect(deadLetter).toEqual({ id: '3-0', ...refused, payload: { payload: 'warm' }, history: [] });
    expect(splitReplayHistory(replayFields(deadLetter)).history).toEqual([refused]);
  });

  it('reads a foreign or damaged entry without throwing', () => {
    expect(parseDeadLetter('1-1', { payload: 'not json', history: '{' })).toEqual({
      id: '1-1',
      messageId: '',
      reason: '',
      failedAt: '',
      consumer: '',
      payload: {},
      history: [],
    });
    expect(splitReplayHistory({ a: '1', deadLetterHistory: '[1, null, {"reason": 5}]' }).history).toEqual([
      { messageId: '', reason: '5', failedAt: '', consumer: '' },
    ]);
  });
});

describe('deadLetterArguments', () => {
  it('gives each entry its id, its value count and its fields in order', () => {
    const [partition] = createKeys({
      streamKey: 's',
      deadLetterKey: 'dl',
      metricsKey: 'm',
      seriesPrefix: 'p',
    }).partitions;
    expect(
      deadLetterArguments(partition!, 'g', 500, [
        { id: '1-0', fields: { a: '1', b: '2' } },
        { id: '2-0', fields: {} },
      ]),
    ).toEqual({
      keys: ['s', 'dl'],
      args: ['g', '500', '1-0', '4', 'a', '1', 'b', '2', '2-0', '0'],
    });
  });

  it("writes to the entry's own partition's dead-letter stream", () => {
    const keys = createKeys({
      streamKey: 's',
      deadLetterKey: 'dl',
      metricsKey: 'm',
      seriesPrefix: 'p',
      streamPartitions: 3,
    });
    const third = keys.partitions[2]!;
    expect(deadLetterArguments(third, 'g', 500, []).keys).toEqual([third.stream, third.deadLetter]);
    expect(third.deadLetter).not.toBe(keys.deadLetter);
  });
});
