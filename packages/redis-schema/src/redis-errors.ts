import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from '@redis/client';

/**
 * The project's one vocabulary for what went wrong with Redis. Every caller decides on a kind (or
 * on the reply's code), never on message text, so a new reply Redis may send is handled in one place.
 */
export const REDIS_ERROR_KINDS = [
  /** Not reachable: refused, reset or closed connection, or the client gave up connecting. */
  'connection',
  /** No reply within the command timeout: the command may still have run. */
  'timeout',
  /** Refused by this process before sending: too many of its commands await replies already. */
  'overload',
  /** OOM: used memory is above maxmemory and the command would add to it. */
  'oom',
  /** BUSY: a long script or function holds the server. */
  'busy',
  /** READONLY: the connection reached a replica, e.g. the old primary after a failover. */
  'readonly',
  /** LOADING: the server is still reading its dataset from disk. */
  'loading',
  /** MISCONF: the last RDB snapshot or AOF write failed (often a full disk), so writes are refused. */
  'misconf',
  /** NOSCRIPT: the script cache does not hold the digest (a restart or a failover emptied it). */
  'noscript',
  /** A cluster whose slots are moving or without a primary: CROSSSLOT, MOVED, ASK, TRYAGAIN, CLUSTERDOWN, MASTERDOWN. */
  'cluster',
  /** WRONGTYPE: a key holds another type than the command expects. */
  'wrongtype',
  /** NOPERM or NOAUTH: the ACL user may not run the command. */
  'noperm',
  /** Any other reply, e.g. ERR with a reason; a command Redis refused for what it asked. */
  'other',
] as const;

export type RedisErrorKind = (typeof REDIS_ERROR_KINDS)[number];

/** A command refused before it was sent: `limit` commands of this process await their replies. */
export class InFlightLimitError extends Error {
  constructor(readonly limit: number) {
    super(`${limit} Redis commands await their replies already`);
    this.name = 'InFlightLimitError';
  }
}

const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
];

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

const KIND_BY_CODE: Readonly<Record<string, RedisErrorKind>> = {
  OOM: 'oom',
  BUSY: 'busy',
  READONLY: 'readonly',
  LOADING: 'loading',
  MISCONF: 'misconf',
  NOSCRIPT: 'noscript',
  CROSSSLOT: 'cluster',
  MOVED: 'cluster',
  ASK: 'cluster',
  TRYAGAIN: 'cluster',
  CLUSTERDOWN: 'cluster',
  MASTERDOWN: 'cluster',
  WRONGTYPE: 'wrongtype',
  NOPERM: 'noperm',
  NOAUTH: 'noperm',
  WRONGPASS: 'noperm',
};

/**
 * The code an error reply starts with (`NOSCRIPT`, `BUSYGROUP`, `ERR`, or a script's own such as
 * `BACKPRESSURE`); undefined for anything that is no reply of Redis.
 */
export function redisErrorCode(error: unknown): string | undefined {
  if (!(error instanceof ErrorReply)) return undefined;
  return /^[A-Z][A-Z0-9_-]*/.exec(error.message)?.[0];
}

/** The reason of an `ERR` reply, e.g. "no such key" for `ERR no such key`; undefined for other replies. */
export function redisErrorReason(error: unknown): string | undefined {
  return redisErrorCode(error) === 'ERR' ? (error as ErrorReply).message.slice(4) : undefined;
}

/** What kind of Redis failure `error` is; undefined for an error that did not come from Redis or its client. */
export function classifyRedisError(error: unknown): RedisErrorKind | undefined {
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof InFlightLimitError) return 'overload';
  if (CONNECTION_ERRORS.some((type) => error instanceof type)) return 'connection';
  if (error instanceof ErrorReply) return KIND_BY_CODE[redisErrorCode(error) ?? ''] ?? 'other';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code) ? 'connection' : undefined;
}

/** Errors that came from Redis or its connection, as opposed to the client or this process. */
export function isRedisError(error: unknown): boolean {
  return classifyRedisError(error) !== undefined;
}

/**
 * Kinds that pass by themselves and after which the same command may succeed: the server is
 * unreachable, starting, failing over, full or busy for now. NOPERM, WRONGTYPE and other replies
 * answer the same however often they are asked.
 */
export const TRANSIENT_REDIS_ERROR_KINDS = [
  'connection',
  'timeout',
  'overload',
  'oom',
  'busy',
  'readonly',
  'loading',
  'misconf',
  'noscript',
  'cluster',
] as const;

export type TransientRedisErrorKind = (typeof TRANSIENT_REDIS_ERROR_KINDS)[number];

/** The kind of `error` when a retry can get past it; undefined for anything else. */
export function transientRedisErrorKind(error: unknown): TransientRedisErrorKind | undefined {
  const kind = classifyRedisError(error);
  return (TRANSIENT_REDIS_ERROR_KINDS as readonly RedisErrorKind[]).includes(kind!)
    ? (kind as TransientRedisErrorKind)
    : undefined;
}

export function isTransientRedisError(error: unknown): boolean {
  return transientRedisErrorKind(error) !== undefined;
}

/**
 * Errors that mean "Redis was not reachable" (or a cluster slot has no primary for now), after which
 * the connection's own state is in doubt, as opposed to a command a reachable Redis refused.
 */
export function isConnectionError(error: unknown): boolean {
  const kind = classifyRedisError(error);
  if (kind === 'connection' || kind === 'timeout') return true;
  // A failover under way: the slot will have a primary again shortly, as after a lost connection.
  return kind === 'cluster' && ['TRYAGAIN', 'CLUSTERDOWN', 'MASTERDOWN'].includes(redisErrorCode(error)!);
}

/**
 * Refusals Redis answers before it runs a command (or a script declared with flags) at all, so a
 * refused write wrote nothing. After a timeout or a lost connection the command may have run, and
 * a reply raised inside a script may come after some of its writes.
 */
const REFUSED_BEFORE_RUNNING: ReadonlySet<RedisErrorKind> = new Set([
  'overload',
  'oom',
  'busy',
  'readonly',
  'loading',
  'misconf',
  'noscript',
  'cluster',
  'noperm',
]);

export function wroteNothing(error: unknown): boolean {
  // Refused by the client before sending: no connection, or not connected yet.
  if (error instanceof ClientOfflineError || error instanceof ClientClosedError) return true;
  const kind = classifyRedisError(error);
  return kind !== undefined && REFUSED_BEFORE_RUNNING.has(kind);
}
