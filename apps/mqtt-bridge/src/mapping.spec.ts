import { DEAD_LETTER_PAYLOAD_BYTES, derivedEventId, mapMessage, topicSeries, type MqttMessage } from './mapping';

const receivedAtMs = Date.parse('2026-05-01T12:00:00.000Z');
const options = { clientId: 'bridge-1', maxBatch: 3, maxPayloadBytes: 2 * DEAD_LETTER_PAYLOAD_BYTES, receivedAtMs };
const message = (payload: string, overrides: Partial<MqttMessage> = {}): MqttMessage => ({
  topic: 'telemetry/sensor-7/temperature',
  payload: Buffer.from(payload),
  qos: 1,
  messageId: 42,
  ...overrides,
});

describe('topicSeries', () => {
  it('reads the last two levels as source and metric', () => {
    expect(topicSeries('telemetry/sensor-7/temperature')).toEqual({ source: 'sensor-7', metric: 'temperature' });
    expect(topicSeries('site/a/b/sensor-7/rpm')).toEqual({ source: 'sensor-7', metric: 'rpm' });
    expect(topicSeries('lonely')).toEqual({});
  });
});

describe('derivedEventId', () => {
  it('is the same for a resend of the same packet and differs in every part that tells messages apart', () => {
    const id = derivedEventId(message('21.5'), 'bridge-1');
    expect(id).toMatch(/^mqtt-[0-9a-f]{40}$/);
    expect(derivedEventId(message('21.5'), 'bridge-1')).toBe(id);
    expect(derivedEventId(message('21.6'), 'bridge-1')).not.toBe(id);
    expect(derivedEventId(message('21.5', { messageId: 43 }), 'bridge-1')).not.toBe(id);
    expect(derivedEventId(message('21.5', { topic: 'telemetry/sensor-8/temperature' }), 'bridge-1')).not.toBe(id);
    expect(derivedEventId(message('21.5'), 'bridge-2')).not.toBe(id);
    expect(derivedEventId(message('21.5'), 'bridge-1', 2)).toBe(`${id}.2`);
  });

  it('gives QoS 0 messages none: the broker never sends them twice', () => {
    expect(derivedEventId(message('21.5', { qos: 0, messageId: undefined }), 'bridge-1')).toBeUndefined();
  });
});

describe('mapMessage', () => {
  it('takes a bare number as the value of the topic series, at the time of receipt', () => {
    expect(mapMessage(message(' 21.5\n'), options)).toEqual({
      events: [
        {
          source: 'sensor-7',
          metric: 'temperature',
          value: 21.5,
          occurredAt: '2026-05-01T12:00:00.000Z',
          eventId: derivedEventId(message(' 21.5\n'), 'bridge-1'),
        },
      ],
      rejected: [],
    });
  });

  it('takes a JSON event, filling source and metric from the topic and keeping its own eventId', () => {
    const mapped = mapMessage(
      message('{"value": -3, "occurredAt": "2026-05-01T11:00:00+01:00", "eventId": "reading-9"}'),
      options,
    );
    expect(mapped.events).toEqual([
      {
        source: 'sensor-7',
        metric: 'temperature',
        value: -3,
        occurredAt: '2026-05-01T10:00:00.000Z',
        eventId: 'reading-9',
      },
    ]);
    const named = mapMessage(
      message('{"source": "pump-1", "metric": "rpm", "value": 900}', { qos: 0, messageId: undefined }),
      options,
    );
    expect(named.events).toEqual([
      { source: 'pump-1', metric: 'rpm', value: 900, occurredAt: '2026-05-01T12:00:00.000Z' },
    ]);
  });

  it('takes a batch and refuses only its bad elements, each with its index', () => {
    const mapped = mapMessage(message('[1, {"value": "hot"}, {"metric": "humidity", "value": 40}]'), options);
    expect(mapped.events.map(({ metric, value, eventId }) => ({ metric, value, eventId }))).toEqual([
      {
        metric: 'temperature',
        value: 1,
        eventId: derivedEventId(message('[1, {"value": "hot"}, {"metric": "humidity", "value": 40}]'), 'bridge-1', 0),
      },
      { metric: 'humidity', value: 40, eventId: expect.stringMatching(/\.2$/) },
    ]);
    expect(mapped.rejected).toEqual([
      { reason: '[1] /value: Expected number', fields: { payload: '{"value":"hot"}', index: '1' } },
    ]);
  });

  it.each([
    ['', 'empty payload'],
    ['warm', 'payload is neither a number nor JSON'],
    ['NaN', 'payload is neither a number nor JSON'],
    ['"21.5"', 'expected a number or a JSON event object'],
    ['null', 'expected a number or a JSON event object'],
    ['[]', 'empty batch'],
    ['[1, 2, 3, 4]', 'batch of 4 events is over the limit of 3'],
    ['{"value": 1, "unit": "C"}', '/unit: Unexpected property'],
    ['{"value": 1, "occurredAt": "yesterday"}', "/occurredAt: Expected string to match 'date-time' format"],
  ])('refuses %j whole: %s', (payload, reason) => {
    expect(mapMessage(message(payload), options)).toEqual({ events: [], rejected: [{ reason, fields: { payload } }] });
  });

  it('refuses a number on a topic that names no series, and names unfit for keys', () => {
    expect(mapMessage(message('1', { topic: 'lonely' }), options).rejected[0]!.reason).toBe(
      'a bare number needs a topic ending in <source>/<metric>, got "lonely"',
    );
    expect(mapMessage(message('1', { topic: 'telemetry/a b/t' }), options).rejected[0]!.reason).toMatch(/^\/source: /);
  });

  it('refuses whole a payload nested deeper than the stack reaches', () => {
    const nested = `[${'['.repeat(20_000)}${']'.repeat(20_000)}]`;
    expect(mapMessage(message(nested), { ...options, maxPayloadBytes: 100_000 }).rejected).toEqual([
      { reason: 'payload could not be read: Maximum call stack size exceeded', fields: { payload: nested } },
    ]);
  });

  it('keeps only the head of a huge payload in the dead letter', () => {
    const huge = 'x'.repeat(DEAD_LETTER_PAYLOAD_BYTES + 10);
    const [rejected] = mapMessage(message(huge), options).rejected;
    expect(rejected!.fields.payload).toBe(`${'x'.repeat(DEAD_LETTER_PAYLOAD_BYTES)}…(${huge.length} bytes)`);
  });

  it('refuses a payload over the size limit unread', () => {
    const huge = `[${'1,'.repeat(DEAD_LETTER_PAYLOAD_BYTES)}1]`;
    expect(mapMessage(message(huge), options).rejected[0]!.reason).toBe(
      `payload of ${huge.length} bytes is over the limit of ${2 * DEAD_LETTER_PAYLOAD_BYTES}`,
    );
  });
});
