import { validateEvent, type FieldError, type TelemetryEvent } from '@redis-ingest/redis-schema';
import { HttpError } from '@redis-ingest/service-kit';

export interface RejectedEvent {
  readonly index: number;
  readonly errors: readonly FieldError[];
}

export interface ParsedBatch {
  readonly events: TelemetryEvent[];
  /** Position of each accepted event in the request, so answers can be given in request order. */
  readonly indexes: number[];
  readonly rejected: RejectedEvent[];
}

/** Validates each element of a batch on its own: one bad event does not sink the others. */
export function validateBatch(items: readonly unknown[], maxBatch: number, receivedAtMs: number): ParsedBatch {
  if (items.length === 0) throw new HttpError(400, 'A batch must hold at least one event');
  if (items.length > maxBatch) {
    throw new HttpError(413, `A batch may hold at most ${maxBatch} events`, { events: items.length, maxBatch });
  }
  const batch: ParsedBatch = { events: [], indexes: [], rejected: [] };
  items.forEach((item, index) => {
    const result = validateEvent(item, receivedAtMs);
    if (result.ok) {
      batch.events.push(result.event);
      batch.indexes.push(index);
    } else batch.rejected.push({ index, errors: result.errors });
  });
  return batch;
}

const MALFORMED_LINE = Symbol('malformed');

/** Splits an NDJSON body; blank lines are skipped and a line that is not JSON is rejected by index. */
export function parseNdjson(text: string, maxBatch: number, receivedAtMs: number): ParsedBatch {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const items = lines.map((line) => {
    try {
      return JSON.parse(line) as unknown;
    } catch {
      return MALFORMED_LINE;
    }
  });
  const malformed = new Set(items.flatMap((item, index) => (item === MALFORMED_LINE ? [index] : [])));
  const batch = validateBatch(
    items.map((item) => (item === MALFORMED_LINE ? undefined : item)),
    maxBatch,
    receivedAtMs,
  );
  return {
    ...batch,
    rejected: batch.rejected.map((rejection) =>
      malformed.has(rejection.index)
        ? { index: rejection.index, errors: [{ path: '', message: 'Malformed JSON' }] }
        : rejection,
    ),
  };
}
