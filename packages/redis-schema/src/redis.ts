import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  createClient,
  type RedisClientType,
} from 'redis';

export interface RedisLogger {
  warn(object: object, message: string): void;
}

export interface RedisClientOptions {
  /** Shown in CLIENT LIST, which helps tell the services' connections apart. */
  readonly name: string;
  readonly logger: RedisLogger;
  /** How long a connection attempt may take before it counts as failed. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a command may wait for its reply; unset for connections that issue blocking reads.
   * A command that timed out may still have run, so callers must treat it as "unknown", not "failed".
   */
  readonly commandTimeoutMs?: number;
}

export type RedisClient = RedisClientType;

const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * A client that fails commands at once while disconnected instead of queueing them in process memory
 * (an ingest answer must never claim an event that is not in Redis), and keeps reconnecting in the
 * background with a capped backoff.
 */
export function createRedisClient(
  url: string,
  { name, logger, connectTimeoutMs = 1_000, commandTimeoutMs }: RedisClientOptions,
): RedisClient {
  const client = createClient({
    url,
    name,
    RESP: 2,
    disableOfflineQueue: true,
    ...(commandTimeoutMs === undefined ? {} : { commandOptions: { timeout: commandTimeoutMs } }),
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), MAX_RECONNECT_DELAY_MS),
    },
  });
  let reported = false;
  client.on('error', (error: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (!reported) logger.warn({ err: error, connection: name }, 'redis connection error');
    reported = true;
  });
  client.on('ready', () => {
    reported = false;
  });
  return client;
}


const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  ReconnectStrategyError,
  TimeoutError,
];

/** Errors that mean "Redis was not reachable", as opposed to a command Redis refused. */
export function isConnectionError(error: unknown): boolean {
  if (CONNECTION_ERRORS.some((type) => error instanceof type)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code);
}

/**
 * Starts connecting and waits up to `ms` for the first connection. The reconnect strategy never
 * gives up, so connect() settles only once Redis answers; a service starts serving either way and
 * answers 503 until then.
 */
export function connectWithin(client: RedisClient, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    client.connect().then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => undefined,
    );
  });
}
