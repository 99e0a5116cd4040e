import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { nameSchema } from './names';

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The last instant whose UTC form has a four-digit year. An offset can carry 9999-12-31T23:59:59-00:01
 * past it, and the normalised form (+010000-01-01T00:00:59.000Z) would then fail this very rule
 * when the worker reads the entry back: what ingest accepts, the worker must accept.
 */
export const LAST_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The largest magnitude of a value. Sums stay finite however many values a bucket adds up (below
 * 10^16 of them), so every aggregate of accepted values is a number, never Infinity (JSON null).
 */
export const MAX_EVENT_VALUE = 1e292;

/**
 * ISO-8601 date-time with an explicit offset: without one the instant would depend on the server's
 * time zone. Dates before 1970 are refused because series timestamps are unsigned milliseconds, and
 * instants past the year 9999 because their UTC form has no four-digit year.
 */
export function parseIsoTimestamp(text: string): number | undefined {
  const match = ISO_TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || ms < 0 || ms > LAST_TIMESTAMP_MS) return undefined;
  // Date.parse rolls 2024-02-30 over to March; a calendar check catches it.
  const calendar = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  if (calendar.getUTCDate() !== day || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  return ms;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ISO_SEPARATORS: readonly [number, number][] = [
  [4, 45],
  [7, 45],
  [10, 84],
  [13, 58],
  [16, 58],
  [19, 46],
  [23, 90],
];

/** The digits of `text` from `start` to `end` as a number; NaN if any is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** Milliseconds of "YYYY-MM-DDTHH:MM:SS.mmmZ", toISOString()'s form, from 1970 on; else undefined. */
export function canonicalTimestamp(text: string): number | undefined {
  if (text.length !== 24) return undefined;
  for (const [at, code] of ISO_SEPARATORS) if (text.charCodeAt(at) !== code) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const ms = digits(text, 20, 23);
  // NaN fails every comparison, so a non-digit falls through to undefined.
  if (!(year >= 1970 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0))
    return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

interface ParsedTimestamp {
  readonly text: string;
  readonly ms: number | undefined;
  /** Spelled as toISOString() spells it, so the text itself is the normalised form. */
  readonly canonical: boolean;
}

// The schema check and validateEvent both need the parsed time of the same string, one right after the
// other; remembering the last one halves the cost of the hottest function on the ingest path. Clients
// mostly send toISOString()'s form, which reads without a regex, a Date or a new string.
let lastParsed: ParsedTimestamp = { text: '', ms: undefined, canonical: false };
function parseIsoTimestampOnce(text: string): ParsedTimestamp {
  if (lastParsed.text !== text) {
    const canonicalMs = canonicalTimestamp(text);
    lastParsed =
      canonicalMs === undefined
        ? { text, ms: parseIsoTimestamp(text), canonical: false }
        : { text, ms: canonicalMs, canonical: true };
  }
  return lastParsed;
}

export const TelemetryEventSchema = Type.Object(
  {
    source: nameSchema('The device or sender, e.g. "sensor-7". Letters, digits, "_", "." and "-", at most 128.'),
    metric: nameSchema('What was measured, e.g. "temperature". Letters, digits, "_", "." and "-", at most 128.'),
    value: Type.Number({
      minimum: -MAX_EVENT_VALUE,
      maximum: MAX_EVENT_VALUE,
      description: 'A finite number of magnitude at most 1e292, so that sums and averages of any bucket stay finite.',
    }),
    occurredAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'ISO-8601 with an offset; defaults to the time of receipt.' }),
    ),
    eventId: Type.Optional(
      nameSchema(
        'Makes a retried POST safe: a second event with this id inside the idempotency window is not appended again.',
      ),
    ),
  },
  { additionalProperties: false, $id: 'TelemetryEvent' },
);

export type TelemetryEventInput = Static<typeof TelemetryEventSchema>;

/** An event after validation: occurredAt is always present and normalised to UTC. */
export interface TelemetryEvent {
  readonly source: string;
  readonly metric: string;
  readonly value: number;
  readonly occurredAt: string;
  readonly eventId?: string;
}

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export type Validation = { ok: true; event: TelemetryEvent; timestampMs: number } | { ok: false; errors: FieldError[] };

const isEventDateTime = (value: string) => parseIsoTimestampOnce(value).ms !== undefined;

/**
 * TypeBox keeps string formats in one process-wide registry, and the schema's `date-time` must mean
 * what parseIsoTimestamp accepts. Setting it is idempotent, and done here, when the first event is
 * checked, rather than as a side effect of importing this module.
 */
export function registerEventFormats(): void {
  if (FormatRegistry.Get('date-time') !== isEventDateTime) FormatRegistry.Set('date-time', isEventDateTime);
}

let compiled: TypeCheck<typeof TelemetryEventSchema> | undefined;
function eventChecker(): TypeCheck<typeof TelemetryEventSchema> {
  if (compiled === undefined) {
    registerEventFormats();
    compiled = TypeCompiler.Compile(TelemetryEventSchema);
  }
  return compiled;
}

/** TypeBox reports a missing field as "required" and again as "expected string"; one message a field is clearer. */
function firstErrorPerPath(errors: Iterable<FieldError>): FieldError[] {
  const byPath = new Map<string, FieldError>();
  for (const { path, message } of errors) if (!byPath.has(path)) byPath.set(path, { path, message });
  return [...byPath.values()];
}

export function validateEvent(input: unknown, receivedAtMs: number = Date.now()): Validation {
  const checker = eventChecker();
  if (!checker.Check(input)) {
    return { ok: false, errors: firstErrorPerPath(checker.Errors(input)) };
  }
  // JSON cannot carry NaN or Infinity, but objects built in process (the stream decoder) can.
  if (!Number.isFinite(input.value)) {
    return { ok: false, errors: [{ path: '/value', message: 'Expected a finite number' }] };
  }
  const parsed = input.occurredAt === undefined ? undefined : parseIsoTimestampOnce(input.occurredAt);
  const timestampMs = parsed === undefined ? receivedAtMs : parsed.ms!;
  return {
    ok: true,
    timestampMs,
    event: {
      source: input.source,
      metric: input.metric,
      value: input.value,
      occurredAt: parsed?.canonical ? parsed.text : new Date(timestampMs).toISOString(),
      ...(input.eventId === undefined ? {} : { eventId: input.eventId }),
    },
  };
}

export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map(({ path, message }) => `${path || '/'}: ${message}`).join('; ');
}
