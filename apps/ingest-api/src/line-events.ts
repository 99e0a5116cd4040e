import { NAME_MAX_LENGTH, isValidName, type TelemetryEvent } from '@redis-ingest/redis-schema';
import { parseLineProtocol, timestampMs, type LineError, type ParsedLine, type Precision } from './line-protocol';

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

function sourceOf(point: ParsedLine, mapping: LineMapping): { tag: string; value: string } | undefined {
  let fallback: { tag: string; value: string } | undefined;
  for (const [key, value] of point.tags) {
    if (key === mapping.sourceTag) return { tag: key, value };
    if (key === mapping.fallbackSourceTag) fallback = { tag: key, value };
  }
  return fallback;
}

/** The metric name's tail for the tags other than the source's, or why the line is refused. */
function tagSuffix(
  point: ParsedLine,
  sourceTag: string,
  mapping: LineMapping,
): { suffix: string } | { reason: string } {
  const others = point.tags.filter(([key]) => key !== sourceTag);
  if (others.length === 0) return { suffix: '' };
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

/** Formats a millisecond time, remembering the last: a sender's points of one moment share their timestamp. */
class IsoTimes {
  private ms = Number.NaN;
  private iso = '';

  format(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}

/** The point's events, or why the whole line is refused. */
function eventsOf(
  point: ParsedLine,
  precision: Precision,
  mapping: LineMapping,
  receivedAtMs: number,
  times: IsoTimes,
): TelemetryEvent[] | string {
  const source = sourceOf(point, mapping);
  if (source === undefined) {
    const tags =
      mapping.fallbackSourceTag === mapping.sourceTag
        ? mapping.sourceTag
        : `${mapping.sourceTag} or ${mapping.fallbackSourceTag}`;
    return `no ${tags} tag to take the source from`;
  }
  if (!isValidName(source.value)) return `source "${source.value}" (tag ${source.tag}) must be ${NAME_RULE}`;
  const text = point.fields.find((field) => field.kind === 'string');
  if (text !== undefined) return `field "${text.key}" is a string; only numbers and booleans become events`;
  const tags = tagSuffix(point, source.tag, mapping);
  if ('reason' in tags) return tags.reason;
  const ms = point.timestamp === undefined ? receivedAtMs : timestampMs(point.timestamp, precision);
  if (ms === undefined) return `timestamp ${point.timestamp} (precision ${precision}) is before 1970 or too far ahead`;
  const occurredAt = times.format(ms);
  const events: TelemetryEvent[] = [];
  for (const field of point.fields) {
    const metric = (field.key === 'value' ? point.measurement : `${point.measurement}.${field.key}`) + tags.suffix;
    if (!isValidName(metric)) return `metric "${metric.slice(0, 2 * NAME_MAX_LENGTH)}" must be ${NAME_RULE}`;
    const value = typeof field.value === 'boolean' ? Number(field.value) : (field.value as number);
    events.push({ source: source.value, metric, value, occurredAt });
  }
  return events;
}

/** Parses a body and maps each point to events; a line without a problem is never held back by another's. */
export function eventsFromLines(
  text: string,
  precision: Precision,
  mapping: LineMapping,
  receivedAtMs: number,
): LineBatch {
  const { lines, errors } = parseLineProtocol(text);
  const batch: LineBatch = { events: [], lines: [], rejected: errors };
  const times = new IsoTimes();
  for (const point of lines) {
    const events = eventsOf(point, precision, mapping, receivedAtMs, times);
    if (typeof events === 'string') {
      batch.rejected.push({ line: point.line, message: events });
      continue;
    }
    for (const event of events) {
      batch.events.push(event);
      batch.lines.push(point.line);
    }
  }
  batch.rejected.sort((a, b) => a.line - b.line);
  return batch;
}
