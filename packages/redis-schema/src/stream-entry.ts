import { validateEvent, type TelemetryEvent, type Validation } from './event';

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
