import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EventJournal } from './client.ts';
import type { BufferedEvent } from './types.ts';

export interface FileBufferOptions {
  /** Created if missing; one client at a time may use it. */
  readonly directory: string;
  /** A segment past this size is closed and a new one begun; default 4 MiB. */
  readonly segmentBytes?: number;
  /** fsync after every write, so events survive a power cut and not only a crash of the process; default false. */
  readonly fsync?: boolean;
}

type JournalRecord = { readonly append: BufferedEvent } | { readonly settle: readonly string[] };

interface Segment {
  readonly number: number;
  readonly path: string;
  /** eventId -> appends in this segment not yet settled (a caller may send one eventId twice). */
  readonly open: Map<string, number>;
}

const SEGMENT = /^segment-(\d+)\.ndjson$/;

/**
 * A Node-only journal for IngestClient: every buffered event is appended to a segment file before send()
 * resolves, and settled by a later record once the ingest-api took or refused it. A new client on the same
 * directory replays what was never settled, so a gateway that is killed or loses power (with `fsync`)
 * resends its events on start, with their eventIds, and the ingest-api keeps each once.
 *
 * Segments are append-only and only ever removed oldest first, once every event in them and in all older
 * ones is settled; a settle record can thus never vanish before the append it refers to.
 */
export class FileBuffer implements EventJournal {
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly segments: Segment[] = [];
  private fd: number | undefined;
  private written = 0;

  constructor(private readonly options: FileBufferOptions) {
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.fsync = options.fsync ?? false;
  }

  async load(): Promise<readonly BufferedEvent[]> {
    mkdirSync(this.options.directory, { recursive: true });
    const numbers = readdirSync(this.options.directory)
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((number): number is string => number !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const events = new Map<string, BufferedEvent[]>();
    for (const number of numbers) {
      const segment = this.segmentFor(number);
      for (const line of readFileSync(segment.path, 'utf8').split('\n')) {
        const record = parseRecord(line);
        if (!record) continue;
        if ('append' in record) {
          segment.open.set(record.append.eventId, (segment.open.get(record.append.eventId) ?? 0) + 1);
          events.set(record.append.eventId, [...(events.get(record.append.eventId) ?? []), record.append]);
        } else {
          this.release(record.settle);
          for (const eventId of record.settle) events.get(eventId)?.shift();
        }
      }
    }
    this.startSegment((numbers[numbers.length - 1] ?? 0) + 1);
    this.removeSettledSegments();
    const pending = this.segments.flatMap((segment) => [...segment.open.keys()]);
    return [...new Set(pending)].flatMap((eventId) => events.get(eventId) ?? []);
  }

  async append(events: readonly BufferedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const segment = this.segments[this.segments.length - 1]!;
    for (const { eventId } of events) segment.open.set(eventId, (segment.open.get(eventId) ?? 0) + 1);
    this.write(events.map((event) => JSON.stringify({ append: event })).join('\n') + '\n');
    if (this.written >= this.segmentBytes) this.startSegment(segment.number + 1);
  }

  settle(eventIds: readonly string[]): void {
    if (this.fd === undefined) return;
    this.write(JSON.stringify({ settle: eventIds }) + '\n');
    this.release(eventIds);
    this.removeSettledSegments();
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private segmentFor(number: number): Segment {
    const segment = {
      number,
      path: join(this.options.directory, `segment-${String(number).padStart(8, '0')}.ndjson`),
      open: new Map<string, number>(),
    };
    this.segments.push(segment);
    return segment;
  }

  private startSegment(number: number): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(this.segmentFor(number).path, 'a');
    this.written = 0;
  }

  private write(text: string): void {
    const bytes = Buffer.from(text);
    for (let offset = 0; offset < bytes.length;) offset += writeSync(this.fd!, bytes, offset);
    if (this.fsync) fsyncSync(this.fd!);
    this.written += bytes.length;
  }

  /** Each settled id closes its oldest open append. */
  private release(eventIds: readonly string[]): void {
    for (const eventId of eventIds) {
      const segment = this.segments.find(({ open }) => open.has(eventId));
      if (!segment) continue;
      const left = segment.open.get(eventId)! - 1;
      if (left === 0) segment.open.delete(eventId);
      else segment.open.set(eventId, left);
    }
  }

  /** Oldest first, never the one being written. */
  private removeSettledSegments(): void {
    while (this.segments.length > 1 && this.segments[0]!.open.size === 0) unlinkSync(this.segments.shift()!.path);
  }
}

/** A line torn by a crash mid-write, or anything else unreadable, is skipped. */
function parseRecord(line: string): JournalRecord | undefined {
  if (line.trim() === '') return undefined;
  try {
    const record = JSON.parse(line) as Partial<{ append: BufferedEvent; settle: string[] }>;
    if (record.append && typeof record.append.eventId === 'string') return { append: record.append };
    if (Array.isArray(record.settle)) return { settle: record.settle };
  } catch {
    // Torn line: the append it held never resolved its send(), so the event was never taken.
  }
  return undefined;
}
