import { MAX_EVENT_VALUE, canonicalTimestamp, validateEvent, type TelemetryEvent, type Validation } from './event';
import { isValidName } from './names';
import type { Sample } from './rollup/store';

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
  if (!isValidName(source) || !isValidName(metric) || (eventId !== undefined && !isValidName(eventId)))
    return undefined;
  const number = parseStreamNumber(value);
  const timestampMs = canonicalTimestamp(occurredAt);
  if (number === undefined || Math.abs(number) > MAX_EVENT_VALUE || timestampMs === undefined) return undefined;
  return { source, metric, value: number, timestampMs };
}
