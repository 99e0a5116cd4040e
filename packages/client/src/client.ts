import { BufferFullError, ClientClosedError } from './errors.ts';
import { backoffDelayMs, parseRetryAfter, type RetrySettings } from './retry.ts';
import type { BufferedEvent, IngestEvent, Rejection } from './types.ts';
import { judge, retryAll, type Verdict } from './verdict.ts';
import {
  compressBody,
  contentType,
  frameBatch,
  framingBytes,
  serializeEvent,
  type Bytes,
  type Compression,
  type WireFormat,
} from './wire.ts';

/**
 * Where buffered events live besides memory, so they outlast the process (see `@redis-ingest/client/file-buffer`).
 * An event is appended before send() resolves and settled once the ingest-api accepted or refused it for good.
 */
export interface EventJournal {
  /** The events an earlier run appended and never settled, in the order they were appended. */
  load(): Promise<readonly BufferedEvent[]>;
  append(events: readonly BufferedEvent[]): Promise<void>;
  settle(eventIds: readonly string[]): void;
  close(): Promise<void>;
}

export interface ClientEvents {
  /** The ingest-api holds these events (duplicates: how many it already had from an earlier attempt). */
  accepted: { readonly events: readonly BufferedEvent[]; readonly duplicates: number };
  /** The ingest-api refused this event for good; it is not sent again. */
  rejected: Rejection;
  /** These events go out again after `delayMs`. */
  retry: { readonly events: number; readonly attempt: number; readonly delayMs: number; readonly reason: string };
  /** A request failed (connection, timeout or a retryable status); its events are retried. */
  error: { readonly message: string; readonly status?: number };
}

export type Listener<K extends keyof ClientEvents> = (event: ClientEvents[K]) => void;
export type Hooks = { readonly [K in keyof ClientEvents]?: Listener<K> };

export interface ClientMetrics {
  /** Events taken by send() and not yet accepted or rejected, in flight included. */
  readonly buffered: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** Event sends repeated after a failure. */
  readonly retried: number;
  readonly requests: number;
  readonly bytesSent: number;
  readonly lastError?: { readonly message: string; readonly status?: number; readonly atMs: number };
}

export interface IngestClientOptions {
  /** The ingest-api's base URL (e.g. http://localhost:8080) or its events route. */
  readonly url: string;
  /** A device key, sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** Default 500; the ingest-api takes at most INGEST_MAX_BATCH (default 1000). */
  readonly maxBatchEvents?: number;
  /** Uncompressed body size; default 512 KiB, under the ingest-api's INGEST_BODY_LIMIT_BYTES (default 1 MiB). */
  readonly maxBatchBytes?: number;
  /** A batch that is not full goes out this long after its first event was sent; default 1000. */
  readonly flushIntervalMs?: number;
  readonly format?: WireFormat;
  /** 'auto' (default) gzips bodies of at least `gzipMinBytes` when that shrinks them. */
  readonly compression?: Compression;
  readonly gzipMinBytes?: number;
  /** Events held at most, in flight included; default 10,000. */
  readonly maxBufferedEvents?: number;
  /** A full buffer makes send() wait for room (default) or throw BufferFullError. */
  readonly whenFull?: 'wait' | 'error';
  /** Batches in flight at once; default 1, which keeps every source's events in the order sent. */
  readonly concurrency?: number;
  /** Default 10,000; a request that takes longer is abandoned and retried. */
  readonly requestTimeoutMs?: number;
  /** Default 100 ms initial, 30 s ceiling. */
  readonly retry?: Partial<RetrySettings>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly journal?: EventJournal;
  readonly hooks?: Hooks;
  readonly createEventId?: () => string;
  readonly fetch?: typeof fetch;
}

export interface CloseOptions {
  /** Stop waiting for the ingest-api after this long; the events still held come back undelivered. */
  readonly timeoutMs?: number;
}

export interface CloseResult {
  /** Events neither accepted nor rejected when close gave up (a journal keeps them for the next start). */
  readonly undelivered: readonly BufferedEvent[];
}

interface Entry {
  readonly seq: number;
  readonly event: BufferedEvent;
  readonly line: Bytes;
  readonly queuedAtMs: number;
}

const EVENTS_ROUTE = '/api/ingest/events';

/** Browsers offer randomUUID only to secure (https) pages; getRandomValues everywhere. */
function randomEventId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function eventsUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith(EVENTS_ROUTE) ? base : base + EVENTS_ROUTE;
}

/** A promise to wait on and the function that settles it; every waiter re-checks its own condition. */
class Signal {
  private waiters: (() => void)[] = [];
  /** Resolves at the next notify(), or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      if (timeoutMs !== undefined) timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

function requestSignal(timeoutMs: number, stop: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return typeof AbortSignal.any === 'function' ? AbortSignal.any([timeout, stop]) : timeout;
}

/** fetch's errors name the cause (refused, reset, timed out) one level down. */
function errorMessage(error: unknown): string {
  const message = (value: unknown) =>
    typeof value === 'object' && value !== null && 'message' in value ? String(value.message) : undefined;
  const outer = message(error) ?? String(error);
  const cause = message((error as { cause?: unknown } | undefined)?.cause);
  return cause ? `${outer}: ${cause}` : outer;
}

type Outcome =
  | { readonly status: number; readonly answer: object | undefined; readonly retryAfterMs?: number }
  | { readonly failure: string };

/**
 * Sends events to the ingest-api in batches and keeps each one until the ingest-api has it or has refused
 * it for good: connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff, full
 * jitter and Retry-After, always with the event's eventId, so a retry never appends an event twice.
 */
export class IngestClient {
  private readonly url: string;
  private readonly settings: Required<
    Omit<IngestClientOptions, 'token' | 'journal' | 'hooks' | 'headers' | 'retry' | 'url'>
  > & { retry: RetrySettings };
  private readonly headers: Record<string, string>;
  private readonly journal: EventJournal | undefined;
  private readonly listeners: { [K in keyof ClientEvents]: Set<Listener<K>> } = {
    accepted: new Set(),
    rejected: new Set(),
    retry: new Set(),
    error: new Set(),
  };

  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  /** Taken and not yet settled, by seq; a Map iterates in insertion order, so its first value is the oldest. */
  private readonly unsettled = new Map<number, BufferedEvent>();
  private nextSeq = 0;
  /** Batches holding an event with a lower seq go out without waiting to fill up. */
  private flushBelow = 0;
  private closing = false;
  private readonly stop = new AbortController();
  private admission: Promise<unknown>;
  private readonly ready: Promise<void>;
  private readonly work = new Signal();
  private readonly progress = new Signal();
  private readonly senders: Promise<void>[];
  private counters = { accepted: 0, duplicates: 0, rejected: 0, retried: 0, requests: 0, bytesSent: 0 };
  private lastError: ClientMetrics['lastError'];
  private closed: Promise<CloseResult> | undefined;

  constructor(options: IngestClientOptions) {
    this.url = eventsUrl(options.url);
    this.settings = {
      maxBatchEvents: options.maxBatchEvents ?? 500,
      maxBatchBytes: options.maxBatchBytes ?? 512 * 1024,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      format: options.format ?? 'ndjson',
      compression: options.compression ?? 'auto',
      gzipMinBytes: options.gzipMinBytes ?? 1024,
      maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
      whenFull: options.whenFull ?? 'wait',
      concurrency: options.concurrency ?? 1,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      retry: { initialDelayMs: options.retry?.initialDelayMs ?? 100, maxDelayMs: options.retry?.maxDelayMs ?? 30_000 },
      createEventId: options.createEventId ?? randomEventId,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    };
    for (const [name, value] of Object.entries(this.settings)) {
      if (typeof value === 'number' && !(value > 0))
        throw new RangeError(`${name} must be a positive number, not ${value}`);
    }
    this.headers = {
      'content-type': contentType(this.settings.format),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    };
    this.journal = options.journal;
    for (const [name, listener] of Object.entries(options.hooks ?? {}))
      this.on(name as keyof ClientEvents, listener as never);
    this.ready = this.replayJournal();
    this.admission = this.ready;
    this.senders = Array.from({ length: this.settings.concurrency }, () => this.runSender());
  }

  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on<K extends keyof ClientEvents>(name: K, listener: Listener<K>): () => void {
    const listeners = this.listeners[name] as Set<Listener<K>>;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  metrics(): ClientMetrics {
    return {
      buffered: this.unsettled.size,
      ...this.counters,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Resolves once the event is buffered (and journaled); it goes out with the next batch. */
  send(event: IngestEvent): Promise<void> {
    return this.sendMany([event]);
  }

  /**
   * Resolves once every event is buffered, in order. Under `whenFull: 'error'` it throws BufferFullError
   * and takes none of them if they do not all fit.
   */
  sendMany(events: Iterable<IngestEvent>): Promise<void> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const list = [...events];
    const admitted = this.admission.then(() => this.admit(list));
    this.admission = admitted.catch(() => undefined);
    return admitted;
  }

  /** Sends every event of a (possibly async) iterable, e.g. parsed NDJSON; resolves with their count once all are buffered. */
  async sendAll(events: AsyncIterable<IngestEvent> | Iterable<IngestEvent>): Promise<number> {
    let chunk: IngestEvent[] = [];
    let count = 0;
    for await (const event of events) {
      chunk.push(event);
      if (chunk.length >= this.settings.maxBatchEvents) {
        await this.sendMany(chunk);
        count += chunk.length;
        chunk = [];
      }
    }
    await this.sendMany(chunk);
    return count + chunk.length;
  }

  /** Resolves once every event sent before the call has been accepted or rejected. */
  async flush(): Promise<void> {
    await this.admission;
    const mark = this.nextSeq;
    this.flushBelow = Math.max(this.flushBelow, mark);
    this.work.notify();
    while (!this.stop.signal.aborted && this.oldestUnsettled() < mark) await this.progress.wait();
  }

  /** Flushes, then stops; later sends throw ClientClosedError. Calling it again returns the same result. */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.closed ??= this.shutDown(options);
    return this.closed;
  }

  private async shutDown({ timeoutMs }: CloseOptions): Promise<CloseResult> {
    this.closing = true;
    const flushed = this.flush();
    if (timeoutMs === undefined) await flushed;
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.stop.abort();
    this.work.notify();
    this.progress.notify();
    await Promise.all(this.senders);
    await this.journal?.close();
    return { undelivered: [...this.unsettled.values()] };
  }

  private oldestUnsettled(): number {
    const first = this.unsettled.keys().next();
    return first.done ? Infinity : first.value;
  }

  private async replayJournal(): Promise<void> {
    if (!this.journal) return;
    this.enqueue(await this.journal.load());
  }

  private async admit(events: IngestEvent[]): Promise<void> {
    const { maxBufferedEvents, whenFull, createEventId } = this.settings;
    if (whenFull === 'error' && this.unsettled.size + events.length > maxBufferedEvents) {
      throw new BufferFullError(this.unsettled.size, maxBufferedEvents, events.length);
    }
    const prepared = events.map((event): BufferedEvent =>
      event.eventId === undefined ? { ...event, eventId: createEventId() } : (event as BufferedEvent),
    );
    for (let taken = 0; taken < prepared.length;) {
      while (this.unsettled.size >= maxBufferedEvents) {
        if (this.stop.signal.aborted) throw new ClientClosedError();
        await this.progress.wait();
      }
      const room = prepared.slice(taken, taken + maxBufferedEvents - this.unsettled.size);
      await this.journal?.append(room);
      this.enqueue(room);
      taken += room.length;
    }
  }

  private enqueue(events: readonly BufferedEvent[]): void {
    const now = Date.now();
    for (const event of events) {
      const entry = { seq: this.nextSeq++, event, line: serializeEvent(event), queuedAtMs: now };
      this.queue.push(entry);
      this.queuedBytes += entry.line.length;
      this.unsettled.set(entry.seq, event);
    }
    if (events.length > 0) this.work.notify();
  }

  private batchIsDue(): boolean {
    const head = this.queue[0];
    if (!head) return false;
    const { maxBatchEvents, maxBatchBytes, flushIntervalMs } = this.settings;
    return (
      this.closing ||
      head.seq < this.flushBelow ||
      this.queue.length >= maxBatchEvents ||
      this.queuedBytes + framingBytes(this.settings.format, this.queue.length) >= maxBatchBytes ||
      Date.now() - head.queuedAtMs >= flushIntervalMs
    );
  }

  /** The oldest queued events that fit one request: at least one, however large. */
  private takeBatch(): Entry[] {
    const { maxBatchEvents, maxBatchBytes, format } = this.settings;
    let bytes = 0;
    let count = 0;
    for (const entry of this.queue) {
      if (count >= maxBatchEvents) break;
      const next = bytes + entry.line.length + framingBytes(format, count + 1) - framingBytes(format, count);
      if (count > 0 && next > maxBatchBytes) break;
      bytes = next;
      count++;
    }
    const batch = this.queue.splice(0, count);
    for (const entry of batch) this.queuedBytes -= entry.line.length;
    return batch;
  }

  private async runSender(): Promise<void> {
    await this.ready.catch(() => undefined);
    while (!this.stop.signal.aborted) {
      if (this.batchIsDue()) {
        await this.deliver(this.takeBatch());
        continue;
      }
      const head = this.queue[0];
      await this.work.wait(head ? head.queuedAtMs + this.settings.flushIntervalMs - Date.now() : undefined);
    }
  }

  /** Sends a batch until every event in it is accepted or rejected, or the client stops. */
  private async deliver(batch: readonly Entry[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0 && !this.stop.signal.aborted;) {
      const outcome = await this.post(pending);
      const verdict: Verdict =
        'failure' in outcome
          ? retryAll(pending.length)
          : judge(
              outcome.status,
              outcome.answer,
              pending.map(({ event }) => event),
            );
      const retry = verdict.retry.map((position) => pending[position]!);
      if (!('failure' in outcome)) this.report(outcome.status, verdict, pending);
      if (verdict.split) {
        const half = Math.ceil(retry.length / 2);
        await this.deliver(retry.slice(0, half));
        await this.deliver(retry.slice(half));
        return;
      }
      const resend = new Set([...verdict.resend.map((position) => pending[position]!), ...retry]);
      pending = batch.filter((entry) => resend.has(entry));
      if (retry.length === 0) continue;
      const reason = 'failure' in outcome ? outcome.failure : `HTTP ${outcome.status}`;
      const delayMs = backoffDelayMs(
        attempt++,
        this.settings.retry,
        'failure' in outcome ? undefined : outcome.retryAfterMs,
      );
      this.counters.retried += retry.length;
      this.lastError = {
        message: reason,
        ...('failure' in outcome ? {} : { status: outcome.status }),
        atMs: Date.now(),
      };
      this.emit('error', 'failure' in outcome ? { message: reason } : { message: reason, status: outcome.status });
      this.emit('retry', { events: retry.length, attempt, delayMs, reason });
      await sleep(delayMs, this.stop.signal);
    }
  }

  /** Settles the events an answer accepted or refused for good. */
  private report(status: number, verdict: Verdict, pending: readonly Entry[]): void {
    const accepted = verdict.accepted.map((position) => pending[position]!);
    const rejected = verdict.rejected.map(({ position, message, errors }) => ({
      entry: pending[position]!,
      message,
      errors,
    }));
    this.settle([...accepted, ...rejected.map(({ entry }) => entry)]);
    if (accepted.length > 0) {
      this.counters.accepted += accepted.length;
      this.counters.duplicates += verdict.duplicates;
      this.emit('accepted', { events: accepted.map(({ event }) => event), duplicates: verdict.duplicates });
    }
    for (const { entry, message, errors } of rejected) {
      this.counters.rejected++;
      this.emit('rejected', { event: entry.event, status, message, errors });
    }
  }

  private settle(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const { seq } of entries) this.unsettled.delete(seq);
    this.journal?.settle(entries.map(({ event }) => event.eventId));
    this.progress.notify();
  }

  private async post(entries: readonly Entry[]): Promise<Outcome> {
    const { format, compression, gzipMinBytes, requestTimeoutMs } = this.settings;
    const framed = frameBatch(
      format,
      entries.map(({ line }) => line),
    );
    const { body, gzipped } = await compressBody(framed, compression, gzipMinBytes);
    this.counters.requests++;
    this.counters.bytesSent += body.length;
    try {
      const response = await this.settings.fetch(this.url, {
        method: 'POST',
        headers: gzipped ? { ...this.headers, 'content-encoding': 'gzip' } : this.headers,
        body,
        signal: requestSignal(requestTimeoutMs, this.stop.signal),
      });
      const text = await response.text();
      let answer: object | undefined;
      try {
        answer = JSON.parse(text) as object;
      } catch {
        answer = undefined;
      }
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      return { status: response.status, answer, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    } catch (error) {
      return { failure: errorMessage(error) };
    }
  }

  private emit<K extends keyof ClientEvents>(name: K, event: ClientEvents[K]): void {
    for (const listener of this.listeners[name] as Set<Listener<K>>) {
      try {
        listener(event);
      } catch {
        // A listener's own bug must not stop delivery of the events.
      }
    }
  }
}
