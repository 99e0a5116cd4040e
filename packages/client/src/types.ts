/** An event as the ingest-api takes it; `eventId` is filled in by the client when absent. */
export interface IngestEvent {
  readonly source: string;
  readonly metric: string;
  readonly value: number;
  readonly occurredAt?: string;
  readonly eventId?: string;
}

/** An event the client holds: it always has its eventId, so every resend of it is safe. */
export type BufferedEvent = IngestEvent & { readonly eventId: string };

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** An event the ingest-api refused for good (a 4xx other than 408 and 429), with the server's reasons. */
export interface Rejection {
  readonly event: BufferedEvent;
  readonly status: number;
  readonly message: string;
  readonly errors: readonly FieldError[];
}
