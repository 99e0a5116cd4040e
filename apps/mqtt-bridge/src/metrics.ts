import { ServiceMetrics, type Counter } from '@redis-ingest/service-kit';

/** Why a message waits instead of being acknowledged, as a metric label. */
export type HoldReason = 'backpressure' | 'unavailable' | 'failed';

/** What the bridge did with the messages it was handed, on top of the service's HTTP and Redis metrics. */
export class BridgeMetrics {
  readonly messages: Counter;
  readonly appended: Counter;
  readonly duplicates: Counter;
  readonly deadLettered: Counter;
  readonly held: Counter<'reason'>;

  constructor(readonly service: ServiceMetrics = new ServiceMetrics()) {
    this.messages = service.counter(
      'bridge_messages_total',
      'MQTT messages handled to the end: their events appended or dead-lettered (a message the broker sends again counts again)',
    );
    this.appended = service.counter(
      'bridge_events_appended_total',
      'Events appended to the stream, duplicates not included',
    );
    this.duplicates = service.counter(
      'bridge_events_duplicate_total',
      'Redelivered events the stream already held, not appended again',
    );
    this.deadLettered = service.counter(
      'bridge_events_dead_lettered_total',
      'Payloads, or elements of a batch, written to the dead-letter stream',
    );
    this.held = service.counter(
      'bridge_holds_total',
      'Attempts that left a message unacknowledged to try again: backpressure (the pipeline is behind), unavailable (Redis) or failed',
      ['reason'],
    );
  }
}
