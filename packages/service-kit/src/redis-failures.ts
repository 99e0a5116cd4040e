import type { ErrorRequestHandler } from 'express';
import {
  classifyRedisError,
  transientRedisErrorKind,
  type RedisErrorKind,
  type TransientRedisErrorKind,
} from '@redis-ingest/redis-schema';
import { HttpError, errorHandler } from './http';
import type { Logger } from './logger';
import type { ServiceMetrics } from './metrics';

/** How a client is told about each kind of Redis failure that a later retry can get past. */
const RETRYABLE: Record<TransientRedisErrorKind, { readonly message: string; readonly retryAfterSeconds: number }> = {
  connection: { message: 'Redis is unavailable; retry later', retryAfterSeconds: 1 },
  timeout: { message: 'Redis did not answer in time; retry later', retryAfterSeconds: 1 },
  overload: { message: 'Too much Redis work is in flight in this process; retry later', retryAfterSeconds: 1 },
  oom: { message: 'Redis is out of memory; retry once the pipeline has drained', retryAfterSeconds: 5 },
  busy: { message: 'Redis is busy running a script; retry later', retryAfterSeconds: 1 },
  readonly: {
    message: 'Redis answered as a read-only replica (a failover is under way); retry later',
    retryAfterSeconds: 1,
  },
  loading: { message: 'Redis is loading its dataset; retry later', retryAfterSeconds: 5 },
  misconf: {
    message: 'Redis cannot write its snapshot or append-only file (a full disk?) and refuses writes; retry later',
    retryAfterSeconds: 10,
  },
  noscript: { message: 'Redis lost its script cache; retry', retryAfterSeconds: 1 },
  cluster: { message: 'The Redis cluster is moving slots or failing over; retry later', retryAfterSeconds: 1 },
};

/** 503 with Retry-After, naming the kind under `redisError`, for a Redis failure a retry can get past. */
export function redisFailureAnswer(error: unknown, details: Record<string, unknown> = {}): HttpError | undefined {
  const kind = transientRedisErrorKind(error);
  if (kind === undefined) return undefined;
  const { message, retryAfterSeconds } = RETRYABLE[kind];
  return new HttpError(503, message, { redisError: kind, ...details }, { 'Retry-After': String(retryAfterSeconds) });
}

/** A burst of one kind of failure logs its first error, then at most one line this often. */
export const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Counts Redis failures by operation and kind, and logs those a retry can get past once per burst
 * rather than per request: under an outage or a full Redis every request fails alike, and a line
 * each would bury the first. Each line after the first tells how many failures it stands for. The
 * other kinds are faults, which the caller logs each time.
 */
export class RedisFailures {
  private readonly bursts = new Map<string, { loggedAtMs: number; unlogged: number }>();

  constructor(
    private readonly metrics: ServiceMetrics,
    private readonly logger: Logger,
    private readonly intervalMs = FAILURE_LOG_INTERVAL_MS,
  ) {}

  /** Counts `error` when it came from Redis, and logs it when retryable; answers its kind, undefined for any other error. */
  record(error: unknown, operation: string, log: Logger = this.logger): RedisErrorKind | undefined {
    const kind = classifyRedisError(error);
    if (kind === undefined) return undefined;
    this.metrics.redisErrors.inc({ operation, kind });
    if (transientRedisErrorKind(error) === undefined) return kind;
    const key = `${operation}:${kind}`;
    const now = Date.now();
    const burst = this.bursts.get(key);
    if (burst !== undefined && now - burst.loggedAtMs < this.intervalMs) {
      burst.unlogged++;
      return kind;
    }
    this.bursts.set(key, { loggedAtMs: now, unlogged: 0 });
    log.warn(
      { err: error, operation, redisError: kind, alsoFailedSinceLastLine: burst?.unlogged ?? 0 },
      `redis ${kind} failure`,
    );
    return kind;
  }

  /**
   * The service's error handler: Redis failures are counted (and logged once per burst), then
   * `classify` maps the service's own errors, and Redis failures a retry can get past answer 503
   * with Retry-After.
   */
  errorHandler(
    operation: string,
    classify: (error: unknown) => HttpError | undefined = () => undefined,
  ): ErrorRequestHandler {
    return errorHandler(this.logger, (error) => {
      this.record(error, operation);
      return classify(error) ?? redisFailureAnswer(error);
    });
  }
}
