import { HttpError, type Counter, type ServiceMetrics } from '@redis-ingest/service-kit';

/** Why events of a parsed request were not appended. */
export type RejectionReason = 'invalid' | 'forbidden' | 'rate_limited' | 'too_large' | 'unavailable';

export function rejectionReason(error: unknown): RejectionReason {
  if (error instanceof HttpError) {
    if (error.status === 403) return 'forbidden';
    if (error.status === 429) return 'rate_limited';
    if (error.status === 413) return 'too_large';
  }
  return 'unavailable';
}

/** Events in and out of the ingest-api, beside the HTTP and Redis metrics every service has. */
export class IngestMetrics {
  readonly accepted: Counter;
  readonly rejected: Counter<'reason'>;

  constructor(metrics: ServiceMetrics) {
    this.accepted = metrics.counter(
      'ingest_events_accepted_total',
      'Events answered with 2xx: appended, or duplicates of an event appended before',
    );
    this.rejected = metrics.counter(
      'ingest_events_rejected_total',
      'Events of parsed requests that were not appended, by reason',
      ['reason'],
    );
  }
}
