import { createHash } from 'node:crypto';
import { describeErrors, validateEvent, type TelemetryEvent } from '@redis-ingest/redis-schema';

/** What the bridge needs of one MQTT PUBLISH. */
export interface MqttMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  /** The packet identifier; QoS 0 messages have none. */
  readonly messageId?: number | undefined;
}

/** A payload, or one element of a batch, that cannot become an event. */
export interface RejectedPayload {
  readonly reason: string;
  /** What goes into the dead letter: the payload text, or the offending element of a batch. */
  readonly fields: Record<string, string>;
}

/** Mutable on purpose: the bridge takes out what it has delivered, so a retry repeats only the rest. */
export interface MappedMessage {
  events: TelemetryEvent[];
  rejected: RejectedPayload[];
}

export interface MappingOptions {
  /** Part of every derived event id: packet identifiers count per session, and the session is the client id's. */
  readonly clientId: string;
  readonly maxBatch: number;
  readonly maxPayloadBytes: number;
  readonly receivedAtMs: number;
}

/** A dead letter keeps this much of a payload; the reason says what was wrong, the head shows what it looked like. */
export const DEAD_LETTER_PAYLOAD_BYTES = 64 * 1_024;

/** The last two levels of a topic, `…/<source>/<metric>`; a topic with fewer levels names neither. */
export function topicSeries(topic: string): { source?: string; metric?: string } {
  const levels = topic.split('/');
  if (levels.length < 2) return {};
  return { source: levels[levels.length - 2]!, metric: levels[levels.length - 1]! };
}

/**
 * The event id of a message that carries none of its own. A QoS 1 message the broker sends again
 * (the bridge went away before its PUBACK) comes on the same session with the same packet identifier
 * and the same bytes, so it gets the same id and the append answers it as a duplicate. The price:
 * two different messages with the same topic and payload that the broker happens to give the same
 * packet identifier inside the idempotency window count as one. Identifiers cycle through 65,535
 * values per session, so this needs that many messages in the window and a payload without its own
 * occurredAt or eventId (those differ between readings). QoS 0 is never sent again and gets no id.
 */
export function derivedEventId(message: MqttMessage, clientId: string, index?: number): string | undefined {
  if (message.qos === 0 || message.messageId === undefined) return undefined;
  const hash = createHash('sha256')
    .update(`${clientId}\0${message.messageId}\0${message.topic}\0`)
    .update(message.payload)
    .digest('hex')
    .slice(0, 40);
  return index === undefined ? `mqtt-${hash}` : `mqtt-${hash}.${index}`;
}

function payloadHead(payload: Buffer): string {
  if (payload.length <= DEAD_LETTER_PAYLOAD_BYTES) return payload.toString('utf8');
  return `${payload.subarray(0, DEAD_LETTER_PAYLOAD_BYTES).toString('utf8')}…(${payload.length} bytes)`;
}

/**
 * A number, or an object of our event schema whose missing source and metric come from the topic;
 * fields the payload names win over the topic's.
 */
function toEvent(
  item: unknown,
  message: MqttMessage,
  options: MappingOptions,
  index: number | undefined,
): { ok: true; event: TelemetryEvent } | { ok: false; reason: string } {
  const series = topicSeries(message.topic);
  let input: Record<string, unknown>;
  if (typeof item === 'number') {
    if (series.source === undefined)
      return { ok: false, reason: `a bare number needs a topic ending in <source>/<metric>, got "${message.topic}"` };
    input = { ...series, value: item };
  } else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
    input = { ...series, ...(item as Record<string, unknown>) };
  } else {
    return { ok: false, reason: 'expected a number or a JSON event object' };
  }
  const eventId = input.eventId ?? derivedEventId(message, options.clientId, index);
  const result = validateEvent(eventId === undefined ? input : { ...input, eventId }, options.receivedAtMs);
  return result.ok ? { ok: true, event: result.event } : { ok: false, reason: describeErrors(result.errors) };
}

const refusedWhole = (message: MqttMessage, reason: string): MappedMessage => ({
  events: [],
  rejected: [{ reason, fields: { payload: payloadHead(message.payload) } }],
});

/**
 * Turns one MQTT message into the events it carries and the parts that are refused, each with a
 * reason. Never throws: a payload that breaks the reading itself (nesting deep enough to exhaust the
 * stack) is refused whole, since a message that cannot be acknowledged would come back forever.
 */
export function mapMessage(message: MqttMessage, options: MappingOptions): MappedMessage {
  try {
    return mapPayload(message, options);
  } catch (error) {
    return refusedWhole(message, `payload could not be read: ${(error as Error).message}`);
  }
}

function mapPayload(message: MqttMessage, options: MappingOptions): MappedMessage {
  const whole = (reason: string) => refusedWhole(message, reason);
  if (message.payload.length === 0) return whole('empty payload');
  if (message.payload.length > options.maxPayloadBytes) {
    return whole(`payload of ${message.payload.length} bytes is over the limit of ${options.maxPayloadBytes}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.payload.toString('utf8'));
  } catch {
    return whole('payload is neither a number nor JSON');
  }
  if (!Array.isArray(parsed)) {
    const mapped = toEvent(parsed, message, options, undefined);
    return mapped.ok ? { events: [mapped.event], rejected: [] } : whole(mapped.reason);
  }
  if (parsed.length === 0) return whole('empty batch');
  if (parsed.length > options.maxBatch)
    return whole(`batch of ${parsed.length} events is over the limit of ${options.maxBatch}`);
  const events: TelemetryEvent[] = [];
  const rejected: RejectedPayload[] = [];
  parsed.forEach((item: unknown, index) => {
    const mapped = toEvent(item, message, options, index);
    if (mapped.ok) events.push(mapped.event);
    else
      rejected.push({
        reason: `[${index}] ${mapped.reason}`,
        fields: { payload: JSON.stringify(item) ?? '', index: String(index) },
      });
  });
  return { events, rejected };
}
