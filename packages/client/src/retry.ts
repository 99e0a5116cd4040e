export interface RetrySettings {
  /** The first retry waits up to this long; each further attempt doubles the ceiling. */
  readonly initialDelayMs: number;
  /** The ceiling never grows past this. */
  readonly maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(max, initial·2^attempt)], so clients that
 * failed together do not come back together. A server's Retry-After is a floor: it knows when it can take
 * the events again.
 */
export function backoffDelayMs(
  attempt: number,
  settings: RetrySettings,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.max(retryAfterMs ?? 0, Math.floor(random() * ceiling));
}

/** Retry-After in seconds or as an HTTP date; anything else counts as absent. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
