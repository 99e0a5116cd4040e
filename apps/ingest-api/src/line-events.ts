import { MAX_EVENT_VALUE, NAME_MAX_LENGTH, isValidName, type TelemetryEvent } from '@redis-ingest/redis-schema';
import { parseLineProtocol, type LineError, type ParsedLine, type Precision } from './line-protocol';

/** How points of line protocol become events. */
export interface LineMapping {
  /** The tag whose value is the event's source. */
  readonly sourceTag: string;
  /** Taken when a point lacks `sourceTag`; the same tag again means no fallback. */
  readonly fallbackSourceTag: string;
  /**
   * Every other tag: `metric` appends `.<key>-<value>` to the metric name (tags sorted by key), so
   * points that differ in a tag stay apart as series of their own; `refuse` rejects the line.
   */
  readonly otherTags: 'metric' | 'refuse';
}

export interface LineBatch {
  readonly events: TelemetryEvent[];
  /** The line each event came from, in the order of `events`. */
  readonly lines: number[];
  /** In line order; a line is taken whole or rejected whole. */
  readonly rejected: LineError[];
}

const NAME_RULE = `1 to ${NAME_MAX_LENGTH} characters from A-Z a-z 0-9 _ . -`;

/** The position in `point.tags` of the source's tag, or -1. */
function sourceIndex(point: ParsedLine, mapping: LineMapping): number {
  let fallback = -1;
  for (let i = 0; i < point.tags.length; i += 1) {
    const key = point.tags[i]![0];
    if (key === mapping.sourceTag) return i;
    if (key === mapping.fallbackSourceTag) fallback = i;
  }
  return fallback;
}

/** The metric name's tail for the tags other than the source's, or why the line is refused. */
function tagSuffix(point: ParsedLine, source: number, mapping: LineMapping): { suffix: string } | { reason: string } {
  // Nearly every point carries its source tag alone.
  if (point.tags.length === 1) return NO_SUFFIX;
  const others = point.tags.filter((_, i) => i !== source);
  const sourceTag = point.tags[source]![0];
  if (mapping.otherTags === 'refuse') {
    return {
      reason: `tags other than ${sourceTag} are refused here (INGEST_LINE_OTHER_TAGS=refuse): ${others.map(([key]) => key).join(', ')}`,
    };
  }
  // Measured before sorting, so a line of a million tags is refused without sorting them.
  let length = 0;
  for (const [key, value] of others) length += key.length + value.length + 2;
  if (length > NAME_MAX_LENGTH)
    return { reason: `its tags make the metric name longer than ${NAME_MAX_LENGTH} characters` };
  return {
    suffix: others
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => `.${key}-${value}`)
      .join(''),
  };
}

const NO_SUFFIX = { suffix: '' };

/**
 * Builds a request's events, each in the shape validateEvent gives and by the same rule (names,
 * values within ±MAX_EVENT_VALUE, times from 1970 to the year 9999), so the worker stores every one.
 * The last ISO time and the last valid metric and source are remembered: a sender's points of one
 * moment share their timestamp, and a batch repeats a handful of metrics, often from one host.
 */
class EventBuilder {
  readonly events: TelemetryEvent[] = [];
  readonly lines: number[] = [];
  private isoMs = Number.NaN;
  private iso = '';
  private validMetric = '';
  private validSource = '';

  constructor(
    private readonly mapping: LineMapping,
    private readonly receivedAtMs: number,
  ) {}

  /** Appends the point's events, or says why the whole line is refused. */
  readonly add = (point: ParsedLine): string | undefined => {
    const { mapping } = this;
    const source = sourceIndex(point, mapping);
    if (source === -1) {
      const tags =
        mapping.fallbackSourceTag === mapping.sourceTag
          ? mapping.sourceTag
          : `${mapping.sourceTag} or ${mapping.fallbackSourceTag}`;
      return `no ${tags} tag to take the source from`;
    }
    const [sourceTag, sourceName] = point.tags[source]!;
    if (sourceName !== this.validSource) {
      if (!isValidName(sourceName)) return `source "${sourceName}" (tag ${sourceTag}) must be ${NAME_RULE}`;
      this.validSource = sourceName;
    }
    for (const field of point.fields) {
      if (field.kind === 'string') return `field "${field.key}" is a string; only numbers and booleans become events`;
      if (field.kind === 'float' && Math.abs(field.value) > MAX_EVENT_VALUE)
        return `field "${field.key}": ${field.value} is beyond ±${MAX_EVENT_VALUE}, the largest magnitude a value may have`;
    }
    const tags = tagSuffix(point, source, mapping);
    if ('reason' in tags) return tags.reason;
    const first = this.events.length;
    const occurredAt = this.isoTime(point.timestampMs ?? this.receivedAtMs);
    for (const field of point.fields) {
      let metric = field.key === 'value' ? point.measurement : `${point.measurement}.${field.key}`;
      if (tags.suffix !== '') metric += tags.suffix;
      if (metric !== this.validMetric) {
        if (!isValidName(metric)) {
          this.events.length = first;
          this.lines.length = first;
          return `metric "${metric.slice(0, 2 * NAME_MAX_LENGTH)}" must be ${NAME_RULE}`;
        }
        this.validMetric = metric;
      }
      const value = typeof field.value === 'boolean' ? Number(field.value) : (field.value as number);
      this.events.push({ source: sourceName, metric, value, occurredAt });
      this.lines.push(point.line);
    }
    return undefined;
  };

  private isoTime(ms: number): string {
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}

/** Parses a body and maps each point to events; a line without a problem is never held back by another's. */
export function eventsFromLines(
  text: string,
  precision: Precision,
  mapping: LineMapping,
  receivedAtMs: number,
): LineBatch {
  const builder = new EventBuilder(mapping, receivedAtMs);
  const rejected = parseLineProtocol(text, precision, builder.add);
  return { events: builder.events, lines: builder.lines, rejected };
}
