import { percentile } from './stats';
import type { TracerLatency } from './end-to-end';

export interface TrialOutcome {
  /** The rate the backlog stayed flat at. */
  readonly held: boolean;
  /** The largest backlog (lag + pending) seen while the rate was held, in entries. */
  readonly maxBacklog: number;
}

export interface RateSearch {
  /** A rate known to hold; 0 when none is known. */
  readonly low: number;
  /** A rate known, or assumed, not to hold. */
  readonly high: number;
  /** Trials to run: each halves the interval. */
  readonly steps: number;
  readonly trial: (eventsPerSecond: number) => Promise<TrialOutcome>;
}

/** Bisection between a rate that holds and one that does not; answers the highest rate seen to hold (0 if none did). */
export async function searchSustainedRate({
  low,
  high,
  steps,
  trial,
}: RateSearch): Promise<{ eventsPerSecond: number; trials: { eventsPerSecond: number; outcome: TrialOutcome }[] }> {
  const trials: { eventsPerSecond: number; outcome: TrialOutcome }[] = [];
  for (let step = 0; step < steps; step++) {
    const rate = Math.round((low + high) / 2);
    const outcome = await trial(rate);
    trials.push({ eventsPerSecond: rate, outcome });
    if (outcome.held) low = rate;
    else high = rate;
  }
  return { eventsPerSecond: low, trials };
}

/** Held: the backlog never reached one second's worth of events, and every request was taken. */
export function rateHeld(
  eventsPerSecond: number,
  maxBacklog: number,
  failedRequests: number,
  acceptedPerSecond: number,
): boolean {
  return maxBacklog < eventsPerSecond && failedRequests === 0 && acceptedPerSecond >= 0.95 * eventsPerSecond;
}

export interface BoundaryWindows {
  /** The highest p99 of a window that holds a bucket boundary. */
  readonly boundaryP99Ms: number;
  /** The median of the other windows' p99. */
  readonly otherP99Ms: number;
  readonly boundaryWindows: number;
  readonly otherWindows: number;
}

/**
 * Tracers grouped into windows of `windowMs` (by when their batch was due); a window holds a
 * boundary when a multiple of `bucketMs` falls inside it. Windows of fewer than 5 tracers are left out.
 */
export function latencyAroundBoundaries(
  latencies: readonly TracerLatency[],
  bucketMs: number,
  windowMs: number,
): BoundaryWindows {
  const windows = new Map<number, number[]>();
  for (const { dueAtMs, latencyMs } of latencies) {
    const start = dueAtMs - (dueAtMs % windowMs);
    const window = windows.get(start);
    if (window) window.push(latencyMs);
    else windows.set(start, [latencyMs]);
  }
  const boundary: number[] = [];
  const other: number[] = [];
  for (const [start, values] of windows) {
    if (values.length < 5) continue;
    const holdsBoundary = Math.floor((start + windowMs - 1) / bucketMs) > Math.floor((start - 1) / bucketMs);
    (holdsBoundary ? boundary : other).push(percentile(values, 99));
  }
  if (boundary.length === 0 || other.length === 0)
    throw new Error('the phase was too short to hold a bucket boundary and other windows');
  return {
    boundaryP99Ms: Math.max(...boundary),
    otherP99Ms: percentile(other, 50),
    boundaryWindows: boundary.length,
    otherWindows: other.length,
  };
}
