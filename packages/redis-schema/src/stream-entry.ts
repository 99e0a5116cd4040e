import { MAX_EVENT_VALUE, canonicalTimestamp, validateEvent, type TelemetryEvent, type Validation } from './event';
import { isValidName } from './names';
import type { Sample } from './rollup/store';

/** The one field of an entry the ingest-api writes; its value is packEvent's. */
export const EVENT_FIELD = 'event';

const SEPARATOR = ' ';

/**
 * The event as one stream field's value: source, metric, value, occurredAt and, when the client
 * sent one, eventId, separated by single spaces (no name holds a space; occurredAt is toISOString()'s
 * form). A worker decodes two strings per entry instead of ten, which halved the Node CPU of reading
 * entries, and Redis stores and replies less.
 */
export function packEvent({ source, metric, value, occurredAt, eventId }: TelemetryEvent): string {
  const packed = `${source} ${metric} ${value} ${occurredAt}`;
  return eventId === undefined ? packed : `${packed} ${eventId}`;
}

/** The entry the ingest-api writes for `event`, as node-redis' xAdd takes fields. */
export function packedEntry(event: TelemetryEvent): Record<string, string> {
  return { [EVENT_FIELD]: packEvent(event) };
}

/** A packed event's fields as encodeEvent spells them; undefined when the value is not four or five parts. */
export function unpackEvent(packed: string): Record<string, string> | undefined {
  const parts = packed.split(SEPARATOR);
  if (parts.length !== 4 && parts.length !== 5) return undefined;
  const [source, metric, value, occurredAt, eventId] = parts as [string, string, string, string, string?];
  const fields: Record<string, string> = { source, metric, value, occurredAt };
  if (eventId !== undefined) fields.eventId = eventId;
  return fields;
}

/** An entry's fields as a record, node-redis' XRANGE form: a packed event's are its event fields, any other entry's its own. */
export function eventFields(message: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const names = Object.keys(message);
  if (names.length !== 1 || names[0] !== EVENT_FIELD) return message;
  return unpackEvent(message[EVENT_FIELD]!) ?? message;
}

/** eventFields of an entry from the list XREADGROUP gives: [name, value, ...]. */
export function entryFields(pairs: readonly string[]): Readonly<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i]!;
    // Assignment to "__proto__" would set the prototype; defineProperty keeps it an ordinary field.
    if (name === '__proto__')
      Object.defineProperty(fields, name, {
        value: pairs[i + 1]!,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else fields[name] = pairs[i + 1]!;
  }
  return eventFields(fields);
}

/** Field order matches the tutorial: source metric value occurredAt, then eventId when the client sent one. */
export function encodeEvent(event: TelemetryEvent): Record<string, string> {
  const fields: Record<string, string> = {
    source: event.source,
    metric: event.metric,
    value: String(event.value),
    occurredAt: event.occurredAt,
  };
  if (event.eventId !== undefined) fields.eventId = event.eventId;
  return fields;
}

// Number() is too lenient for stream fields: it reads '' and ' ' as 0 and '0x10' as 16.
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The finite number a stream field spells by the rule the worker applies, else undefined. */
export function parseStreamNumber(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Anything can XADD to the stream, so a worker validates every entry again against the same schema.
 * occurredAt is required here: the ingest-api always writes it, and a receipt time taken now would
 * make a redelivered entry land on a different timestamp.
 */
export function decodeEntry(fields: Readonly<Record<string, string>>): Validation {
  const candidate: Record<string, unknown> = { ...fields };
  if (typeof fields.value === 'string' && DECIMAL.test(fields.value)) candidate.value = Number(fields.value);
  if (fields.occurredAt === undefined) {
    return { ok: false, errors: [{ path: '/occurredAt', message: 'Expected required property' }] };
  }
  return validateEvent(candidate);
}

const EVENT_FIELDS = new Set(['source', 'metric', 'value', 'occurredAt', 'eventId']);

/**
 * The sample of an entry in the shape the ingest-api writes (the event fields only, occurredAt as
 * toISOString() prints it), without building the event decodeEntry answers with; undefined for any
 * other entry, which decodeEntry then judges. It accepts only what decodeEntry accepts, with the
 * same sample: the worker reads every entry, and the schema check, the copies and the event it
 * builds were most of a worker's CPU per event.
 */
export function canonicalSample(fields: Readonly<Record<string, string>>): Sample | undefined {
  for (const name in fields) if (!EVENT_FIELDS.has(name)) return undefined;
  const { source, metric, value, occurredAt, eventId } = fields;
  if (source === undefined || metric === undefined || value === undefined || occurredAt === undefined) return undefined;
  return sampleOfParts(source, metric, value, occurredAt, eventId);
}

/**
 * canonicalSample of an entry in the ingest-api's packed shape, read from XREADGROUP's list without
 * building its fields; undefined for any other entry.
 */
export function packedSample(pairs: readonly string[]): Sample | undefined {
  if (pairs.length !== 2 || pairs[0] !== EVENT_FIELD) return undefined;
  const packed = pairs[1]!;
  const metricAt = packed.indexOf(SEPARATOR) + 1;
  const valueAt = metricAt === 0 ? 0 : packed.indexOf(SEPARATOR, metricAt) + 1;
  const occurredAtAt = valueAt === 0 ? 0 : packed.indexOf(SEPARATOR, valueAt) + 1;
  if (occurredAtAt === 0) return undefined;
  const eventIdAt = packed.indexOf(SEPARATOR, occurredAtAt) + 1;
  if (eventIdAt !== 0 && packed.includes(SEPARATOR, eventIdAt)) return undefined;
  return sampleOfParts(
    packed.slice(0, metricAt - 1),
    packed.slice(metricAt, valueAt - 1),
    packed.slice(valueAt, occurredAtAt - 1),
    eventIdAt === 0 ? packed.slice(occurredAtAt) : packed.slice(occurredAtAt, eventIdAt - 1),
    eventIdAt === 0 ? undefined : packed.slice(eventIdAt),
  );
}

function sampleOfParts(
  source: string,
  metric: string,
  value: string,
  occurredAt: string,
  eventId: string | undefined,
): Sample | undefined {
  if (!isValidName(source) || !isValidName(metric) || (eventId !== undefined && !isValidName(eventId)))
    return undefined;
  const number = parseStreamNumber(value);
  const timestampMs = canonicalTimestamp(occurredAt);
  if (number === undefined || Math.abs(number) > MAX_EVENT_VALUE || timestampMs === undefined) return undefined;
  return { source, metric, value: number, timestampMs };
}
