import type { Sample, TelemetryEvent } from '@redis-ingest/redis-schema';

export const SIMULATED_METRIC = 'temperature';

/**
 * The i-th reading of a fleet: devices take turns, so consecutive readings hit different series,
 * and each device's readings are one second apart, so no two readings of a series share a timestamp.
 */
export function deviceReading(index: number, devices: number, baseMs: number): Sample {
  return {
    source: `device-${index % devices}`,
    metric: SIMULATED_METRIC,
    value: (index % 1_000) / 10,
    timestampMs: baseMs + Math.floor(index / devices) * 1_000,
  };
}

export function toEvent({ source, metric, value, timestampMs }: Sample): TelemetryEvent {
  return { source, metric, value, occurredAt: new Date(timestampMs).toISOString() };
}

/** Exactly `share` of all indexes, spread evenly rather than clumped. */
export function isInvalidIndex(index: number, share: number): boolean {
  return Math.floor((index + 1) * share) > Math.floor(index * share);
}

/** A reading the ingest must refuse: its value is not a number. */
function invalidEventJson(reading: Sample): string {
  return JSON.stringify({ ...toEvent(reading), value: 'unreadable' });
}

export interface Fleet {
  readonly devices: number;
  readonly invalidShare: number;
  readonly baseMs: number;
}

function eventJson(index: number, fleet: Fleet): string {
  const reading = deviceReading(index, fleet.devices, fleet.baseMs);
  return isInvalidIndex(index, fleet.invalidShare) ? invalidEventJson(reading) : JSON.stringify(toEvent(reading));
}

/**
 * Request bodies are made before a run and reused round-robin, so building JSON does not slow the
 * simulator down on a box whose cores the services need too.
 */
export function singleEventBodies(fleet: Fleet, count: number): string[] {
  return Array.from({ length: count }, (_, index) => eventJson(index, fleet));
}

/** JSON arrays of `batchSize` events each. */
export function batchBodies(fleet: Fleet, batchSize: number, count: number): string[] {
  return Array.from({ length: count }, (_, body) => {
    const events = Array.from({ length: batchSize }, (_, i) => eventJson(body * batchSize + i, fleet));
    return `[${events.join(',')}]`;
  });
}

/** The reading of `index` as JSON, built by hand: the open-loop phases make bodies as they send them. */
function readingJson(reading: Sample, isoTime: string): string {
  return `{"source":"${reading.source}","metric":"${reading.metric}","value":${reading.value},"occurredAt":"${isoTime}"}`;
}

/**
 * An open JSON array (no closing bracket) of the fleet's readings `first` to `first + count - 1`,
 * every one a sample its series has not had yet, as a live fleet sends them.
 */
function freshOpenBatch(fleet: Pick<Fleet, 'devices' | 'baseMs'>, first: number, count: number): string {
  const events: string[] = [];
  let isoMs = Number.NaN;
  let iso = '';
  for (let index = first; index < first + count; index++) {
    const reading = deviceReading(index, fleet.devices, fleet.baseMs);
    if (reading.timestampMs !== isoMs) {
      isoMs = reading.timestampMs;
      iso = new Date(isoMs).toISOString();
    }
    events.push(readingJson(reading, iso));
  }
  return `[${events.join(',')}`;
}

/**
 * A maker of open batch bodies of `count` readings each, every call carrying on where the last one
 * stopped, so no reading repeats one its series already has: the phases that run workers measure a
 * live fleet's appends, not the store's path for repeated samples.
 */
export function freshOpenBodies(fleet: Pick<Fleet, 'devices' | 'baseMs'>, count: number): () => string {
  let sent = 0;
  return () => {
    const body = freshOpenBatch(fleet, sent, count);
    sent += count;
    return body;
  };
}

/** An open JSON array of `count` readings taken now, from devices `first % devices` onwards in turn. */
export function nowOpenBatch(devices: number, first: number, count: number, nowMs: number): string {
  const iso = new Date(nowMs).toISOString();
  const events: string[] = [];
  for (let index = first; index < first + count; index++) {
    events.push(
      readingJson(
        {
          source: `device-${index % devices}`,
          metric: SIMULATED_METRIC,
          value: (index % 1_000) / 10,
          timestampMs: nowMs,
        },
        iso,
      ),
    );
  }
  return `[${events.join(',')}`;
}
