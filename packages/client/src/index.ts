export { IngestClient } from './client.ts';
export type {
  ClientEvents,
  ClientMetrics,
  CloseOptions,
  CloseResult,
  EventJournal,
  Hooks,
  IngestClientOptions,
  Listener,
} from './client.ts';
export { BufferFullError, ClientClosedError } from './errors.ts';
export { backoffDelayMs, parseRetryAfter, type RetrySettings } from './retry.ts';
export type { BufferedEvent, FieldError, IngestEvent, Rejection } from './types.ts';
export type { Compression, WireFormat } from './wire.ts';
export { linesOf, parseCsv, parseNdjson, type ParsedLine } from './parse.ts';
