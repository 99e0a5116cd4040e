import type { Pool } from 'undici';
import type { PostOutcome } from './load';
import { deviceReading, isInvalidIndex, type Fleet } from './workload';

export const LINE_PROTOCOL_PATH = '/api/v2/write?org=bench&bucket=bench&precision=ms';

/**
 * The JSON workload's readings as line protocol: measurement `temperature` with the field `value`
 * maps to the very events a JSON batch carries, so the two rates compare parsing and nothing else.
 * A reading the JSON workload makes invalid is a string field here, which the ingest rejects too.
 */
function readingLine(index: number, fleet: Fleet): string {
  const { source, metric, value, timestampMs } = deviceReading(index, fleet.devices, fleet.baseMs);
  const field = isInvalidIndex(index, fleet.invalidShare) ? 'value="unreadable"' : `value=${value}`;
  return `${metric},source=${source} ${field} ${timestampMs}`;
}

/** Bodies of `pointsPerBody` lines each, made before the run like the JSON bodies. */
export function lineProtocolBodies(fleet: Fleet, pointsPerBody: number, count: number): string[] {
  return Array.from({ length: count }, (_, body) =>
    Array.from({ length: pointsPerBody }, (_, i) => readingLine(body * pointsPerBody + i, fleet)).join('\n'),
  );
}

// Bodies are reused round-robin; counting a body's lines once keeps the simulator's own cost down.
const lineCounts = new Map<string, number>();
function lineCount(body: string): number {
  let count = lineCounts.get(body);
  if (count === undefined) lineCounts.set(body, (count = body.split('\n').length));
  return count;
}

/** One write; a partial write is a 400 whose `accepted` counts the events appended all the same. */
export async function postLines(pool: Pool, body: string): Promise<PostOutcome> {
  const response = await pool.request({
    path: LINE_PROTOCOL_PATH,
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body,
  });
  const text = await response.body.text();
  const status = response.statusCode;
  if (status === 204) return { status, accepted: lineCount(body) };
  if (status !== 400) return { status, accepted: 0 };
  return { status, accepted: (JSON.parse(text) as { accepted?: number }).accepted ?? 0 };
}
