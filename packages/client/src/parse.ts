import type { IngestEvent } from './types.ts';

/** One line of input: the event it holds, or why it holds none. Lines count from 1; blank lines are skipped. */
export type ParsedLine =
  { readonly line: number; readonly event: IngestEvent } | { readonly line: number; readonly error: string };

type TextSource = AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array>;

/** Browsers' ReadableStream is not async-iterable everywhere; a reader works in every runtime. */
async function* chunksOf(source: TextSource): AsyncIterable<Uint8Array | string> {
  if (!('getReader' in source)) return yield* source;
  const reader = source.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Splits text arriving in chunks of any size into lines, numbered from 1. */
export async function* linesOf(source: TextSource): AsyncIterable<{ readonly line: number; readonly text: string }> {
  const decoder = new TextDecoder();
  let rest = '';
  let line = 0;
  for await (const chunk of chunksOf(source)) {
    const lines = (rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }))).split('\n');
    rest = lines.pop()!;
    for (const text of lines) yield { line: ++line, text: text.replace(/\r$/, '') };
  }
  rest += decoder.decode();
  if (rest !== '') yield { line: line + 1, text: rest.replace(/\r$/, '') };
}

/** NDJSON: one JSON object per line. The ingest-api judges the fields; here only JSON itself is checked. */
export async function* parseNdjson(source: TextSource): AsyncIterable<ParsedLine> {
  for await (const { line, text } of linesOf(source)) {
    if (text.trim() === '') continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        yield { line, event: value as IngestEvent };
      else yield { line, error: 'Not a JSON object' };
    } catch {
      yield { line, error: 'Malformed JSON' };
    }
  }
}

const CSV_COLUMNS = new Set(['source', 'metric', 'value', 'occurredAt', 'eventId']);

const csvFields = (text: string) => text.split(',').map((field) => field.trim().replace(/^"(.*)"$/, '$1'));

/**
 * CSV with a header row naming its columns (source, metric, value, occurredAt, eventId; any order, the
 * last two optional). Names and dates cannot hold commas or quotes, so a field is never quoted around one.
 */
export async function* parseCsv(source: TextSource): AsyncIterable<ParsedLine> {
  let header: string[] | undefined;
  for await (const { line, text } of linesOf(source)) {
    if (text.trim() === '') continue;
    if (!header) {
      header = csvFields(text);
      const unknown = header.filter((column) => !CSV_COLUMNS.has(column));
      const missing = ['source', 'metric', 'value'].filter((column) => !header!.includes(column));
      if (unknown.length > 0 || missing.length > 0) {
        throw new Error(
          `CSV header on line ${line}: ${[...unknown.map((c) => `unknown column "${c}"`), ...missing.map((c) => `missing column "${c}"`)].join(', ')}`,
        );
      }
      continue;
    }
    const fields = csvFields(text);
    if (fields.length !== header.length) {
      yield { line, error: `Expected ${header.length} fields, found ${fields.length}` };
      continue;
    }
    const row = Object.fromEntries(
      header.flatMap((column, n) => (fields[n] === '' && column !== 'value' ? [] : [[column, fields[n]!]])),
    );
    const value = row.value === '' ? Number.NaN : Number(row.value);
    if (!Number.isFinite(value)) yield { line, error: `value "${row.value}" is not a number` };
    else yield { line, event: { ...row, value } as IngestEvent };
  }
}
