/**
 * Reading RedisTimeSeries replies as node-redis returns them over RESP2: timestamps as integers,
 * values as the module's own number text (`5E-1` for 0.5), which Number() reads, and the errors of
 * multi-element commands as ErrorReply objects in the failing element's position.
 */
import { ErrorReply } from '@redis/client';
import { redisErrorReason } from '../../redis-errors';
import type { Point, WriteResult } from '../store';

/** Error texts the module replies with (module.c / tsdb.c), without Redis' `ERR ` prefix. */
export const TIME_SERIES_ERRORS = {
  keyExists: 'TSDB: key already exists',
  ruleExists: 'TSDB: the destination key already has a src rule',
  keyMissing: 'TSDB: the key does not exist',
  /** What TS.MADD answers for an element whose key is missing or holds another type. */
  notASeries: 'TSDB: the key is not a TSDB key',
} as const;

export type TimeSeriesError = (typeof TIME_SERIES_ERRORS)[keyof typeof TIME_SERIES_ERRORS];

/**
 * True when `error` is exactly that module error. Current modules prefix `ERR `; older ones sent
 * the bare text, which Redis passes on unprefixed.
 */
export function isTimeSeriesError(error: unknown, text: TimeSeriesError): boolean {
  return redisErrorReason(error) === text || (error instanceof ErrorReply && error.message === text);
}

/** Resolves to null instead of failing with that module error; any other failure stands. */
export async function tolerating<T>(reply: Promise<T>, text: TimeSeriesError): Promise<T | null> {
  try {
    return await reply;
  } catch (error) {
    if (isTimeSeriesError(error, text)) return null;
    throw error;
  }
}

function unexpected(command: string, reply: unknown): Error {
  return new Error(`Unexpected ${command} reply: ${JSON.stringify(reply)}`);
}

function parsePoint(command: string, pair: unknown): Point {
  if (!Array.isArray(pair) || pair.length !== 2) throw unexpected(command, pair);
  const [timestamp, value] = pair as unknown[];
  return { timestampMs: Number(timestamp), value: Number(value) };
}

/** TS.GET: `[timestamp, value]`, or an empty array for a series without samples. */
export function parseLastSample(reply: unknown): Point | null {
  if (!Array.isArray(reply)) throw unexpected('TS.GET', reply);
  return reply.length === 0 ? null : parsePoint('TS.GET', reply);
}

/** TS.RANGE: an array of `[timestamp, value]` pairs. */
export function parseSamples(reply: unknown): Point[] {
  if (!Array.isArray(reply)) throw unexpected('TS.RANGE', reply);
  return reply.map((pair) => parsePoint('TS.RANGE', pair));
}

/** One TS.MADD element: the sample's timestamp, or the error that refused it. */
export function toWriteResult(element: unknown): WriteResult {
  if (element instanceof ErrorReply) return { ok: false, reason: element.message };
  if (typeof element !== 'number') throw unexpected('TS.MADD', element);
  return { ok: true };
}

/** TS.MADD: one element per sample, in order. */
export function parseMAddReply(reply: unknown, sampleCount: number): unknown[] {
  if (!Array.isArray(reply) || reply.length !== sampleCount) throw unexpected('TS.MADD', reply);
  return reply;
}

/** A series' `[[label, value], ...]`. */
function parseLabels(command: string, pairs: readonly unknown[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw unexpected(command, pair);
      return [String(pair[0]), String(pair[1])];
    }),
  );
}

export interface GroupedRange {
  /** `label=value` of the GROUPBY label, e.g. `metric=temperature`. */
  readonly group: string;
  /** Empty without WITHLABELS; with it the group label, `__reducer__` and `__source__` (the keys reduced, comma-separated). */
  readonly labels: Readonly<Record<string, string>>;
  readonly points: Point[];
}

/** TS.MRANGE ... GROUPBY: per group `[name, [[label, value], ...], samples]`. */
export function parseGroupedRange(reply: unknown): GroupedRange[] {
  if (!Array.isArray(reply)) throw unexpected('TS.MRANGE', reply);
  return reply.map((group: unknown) => {
    if (!Array.isArray(group) || group.length !== 3 || typeof group[0] !== 'string' || !Array.isArray(group[1])) {
      throw unexpected('TS.MRANGE', group);
    }
    const labels = parseLabels('TS.MRANGE', group[1] as unknown[]);
    return { group: group[0], labels, points: parseSamples(group[2]) };
  });
}
