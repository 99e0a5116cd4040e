import type { BufferedEvent, FieldError } from './types.ts';

export interface RejectedPosition {
  readonly position: number;
  readonly message: string;
  readonly errors: readonly FieldError[];
}

/** What one answer of the ingest-api means for each event of the batch it answered, by position. */
export interface Verdict {
  readonly accepted: readonly number[];
  readonly duplicates: number;
  readonly rejected: readonly RejectedPosition[];
  /** Events to send again after a backoff. */
  readonly retry: readonly number[];
  /** Events to send again at once: the answer refused the batch only because of other events in it. */
  readonly resend: readonly number[];
  /** The batch was too large for the server: send the retried events again in smaller batches. */
  readonly split: boolean;
}

interface Answer {
  readonly error?: unknown;
  readonly errors?: unknown;
  readonly accepted?: unknown;
  readonly rejected?: unknown;
  readonly duplicates?: unknown;
  readonly appended?: unknown;
  readonly notAppended?: unknown;
  readonly forbiddenSources?: unknown;
}

const positionsOf = (count: number) => Array.from({ length: count }, (_, position) => position);

function indexesOf(list: unknown): number[] {
  return Array.isArray(list)
    ? list.flatMap((item: { index?: unknown }) => (typeof item?.index === 'number' ? [item.index] : []))
    : [];
}

function fieldErrors(errors: unknown): FieldError[] {
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((error: { path?: unknown; message?: unknown }) =>
    typeof error?.message === 'string'
      ? [{ path: typeof error.path === 'string' ? error.path : '', message: error.message }]
      : [],
  );
}

/** The per-index refusals of a batch answer (`rejected: [{ index, errors }]`). */
function rejectedByIndex(answer: Answer): RejectedPosition[] {
  if (!Array.isArray(answer.rejected)) return [];
  return answer.rejected.flatMap((item: { index?: unknown; errors?: unknown }) =>
    typeof item?.index === 'number'
      ? [{ position: item.index, message: 'Invalid event', errors: fieldErrors(item.errors) }]
      : [],
  );
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

const verdict = (parts: Partial<Verdict>): Verdict => ({
  accepted: [],
  duplicates: 0,
  rejected: [],
  retry: [],
  resend: [],
  split: false,
  ...parts,
});

/** A request that got no answer (connection lost, timeout): every event goes out again. */
export const retryAll = (count: number): Verdict => verdict({ retry: positionsOf(count) });

/**
 * Reads an answer to a batch request (a JSON array or NDJSON of `events`). `answer` is the parsed body, or
 * undefined when it was not JSON (a proxy's error page, say), in which case the status alone decides.
 */
export function judge(status: number, body: object | undefined, events: readonly BufferedEvent[]): Verdict {
  const answer = body as Answer | undefined;
  const all = positionsOf(events.length);
  const message = typeof answer?.error === 'string' ? answer.error : `HTTP ${status}`;
  if (status >= 200 && status < 300) {
    const rejected = rejectedByIndex(answer ?? {});
    const refused = new Set(rejected.map(({ position }) => position));
    const duplicates = typeof answer?.duplicates === 'number' ? answer.duplicates : 0;
    return verdict({ accepted: all.filter((position) => !refused.has(position)), duplicates, rejected });
  }
  if (retryable(status)) {
    // A partly appended batch names what is in and what is not; everything else is sent again whole.
    if (status === 503 && Array.isArray(answer?.notAppended)) {
      const accepted = indexesOf(answer.appended);
      const duplicates = Array.isArray(answer.appended)
        ? answer.appended.filter((item: { duplicate?: unknown }) => item?.duplicate === true).length
        : 0;
      return verdict({ accepted, duplicates, rejected: rejectedByIndex(answer), retry: indexesOf(answer.notAppended) });
    }
    return retryAll(events.length);
  }
  if (status === 413 && events.length > 1) return verdict({ retry: all, split: true });
  const forbidden = new Set(status === 403 && Array.isArray(answer?.forbiddenSources) ? answer.forbiddenSources : []);
  // Naming no source of the batch would make the resend a loop; the batch is refused whole then.
  if (events.some(({ source }) => forbidden.has(source))) {
    return verdict({
      rejected: all
        .filter((position) => forbidden.has(events[position]!.source))
        .map((position) => ({ position, message, errors: [] })),
      resend: all.filter((position) => !forbidden.has(events[position]!.source)),
    });
  }
  const byIndex = rejectedByIndex(answer ?? {});
  if (byIndex.length > 0) {
    const refused = new Set(byIndex.map(({ position }) => position));
    // A 400 with per-index refusals names every event; any it does not name was refused with the batch.
    return verdict({
      rejected: [
        ...byIndex,
        ...all.filter((position) => !refused.has(position)).map((position) => ({ position, message, errors: [] })),
      ],
    });
  }
  const errors = fieldErrors(answer?.errors);
  return verdict({ rejected: all.map((position) => ({ position, message, errors })) });
}
