import { ServiceMetrics, type Counter, type Histogram } from '@redis-ingest/service-kit';

/** Why an entry went to the dead-letter stream, as a metric label. */
export type DeadLetterCause = 'validation' | 'store_refused' | 'max_deliveries';

/** Batches take from well under a millisecond (a few entries) to seconds (a slow Redis). */
const BATCH_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the worker did with the entries it was handed, on top of the service's HTTP and Redis metrics. */
export class WorkerMetrics {
  readonly processed: Counter;
  readonly deadLettered: Counter<'reason'>;
  readonly reclaimed: Counter;
  readonly batches: Counter;
  readonly batchSeconds: Histogram;

  constructor(readonly service: ServiceMetrics = new ServiceMetrics()) {
    this.processed = service.counter(
      'worker_entries_processed_total',
      'Entries whose sample the store accepted and that were acked',
    );
    this.deadLettered = service.counter(
      'worker_entries_dead_lettered_total',
      'Entries written to the dead-letter stream and acked, by reason: validation, store_refused or max_deliveries',
      ['reason'],
    );
    this.reclaimed = service.counter(
      'worker_entries_reclaimed_total',
      'Entries taken over from consumers that left them unacked',
    );
    this.batches = service.counter('worker_batches_total', 'Batches of entries processed, whatever became of them');
    this.batchSeconds = service.histogram(
      'worker_batch_duration_seconds',
      'Time to store, dead-letter and ack one batch',
      BATCH_SECONDS_BUCKETS,
    );
  }
}
