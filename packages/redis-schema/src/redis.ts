import { TimeoutError, createClient, type RedisClientType } from '@redis/client';
import { InFlightLimitError } from './redis-errors';
import { RedisClusterClient } from './redis-cluster-client';

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
  /**
   * Most commands awaiting their replies at once; more are refused at once with InFlightLimitError
   * rather than queued in process memory until they time out. A command that timed out counts until
   * Redis has answered it. PING is never refused, so readiness reflects Redis, not the load.
   */
  readonly maxInFlight?: number;
}

/** PEM contents for rediss:// connections: a CA to trust, and a client certificate with its key. */
export interface RedisTlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * A standalone server (or a primary), or the seed nodes of a Redis Cluster. The URLs carry user and
 * password (redis://user:password@host:port) and rediss:// for TLS; `tls` adds the files for it.
 */
export type RedisTarget = ({ readonly url: string } | { readonly clusterNodes: readonly string[] }) & {
  readonly tls?: RedisTlsFiles;
};

/** Socket options of a connection over TLS with `files`; none without files, where the URL decides. */
export function tlsSocketOptions(
  files: RedisTlsFiles | undefined,
): ({ tls: true } & RedisTlsFiles) | Record<string, never> {
  return files === undefined ? {} : { tls: true, ...files };
}

/**
 * The commands the services call by name. The cluster client delegates each of them to node-redis'
 * cluster client, which routes them by their key.
 */
export const TYPED_COMMANDS = [
  'xAdd',
  'xLen',
  'xRange',
  'xRevRange',
  'xDel',
  'xAck',
  'xTrim',
  'xReadGroup',
  'xGroupCreate',
  'xInfoGroups',
  'xInfoConsumers',
  'xPending',
  'hGet',
  'hGetAll',
  'hSet',
  'hSetNX',
  'hLen',
  'hDel',
  'exists',
  'set',
  'del',
  'pTTL',
] as const;

type NodeRedisClient = RedisClientType;

/**
 * What the services use of a Redis connection, in node-redis' own signatures: the node-redis client
 * of a standalone server is one as it is, and so is the cluster client. `sendCommand(args)` routes
 * by the command's key on a cluster (see commandRoute). `ping()` asks every primary of a cluster.
 */
export interface RedisClient extends Pick<
  NodeRedisClient,
  (typeof TYPED_COMMANDS)[number] | 'ping' | 'sendCommand' | 'close' | 'destroy'
> {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
}

const MAX_RECONNECT_DELAY_MS = 2_000;

/** Milliseconds before reconnect attempt `retries` (0-based): doubling from 50 ms up to 2 s. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 6), MAX_RECONNECT_DELAY_MS);
}

/**
 * A client that fails commands at once while disconnected instead of queueing them in process memory
 * (an ingest answer must never claim an event that is not in Redis), and keeps reconnecting in the
 * background with a capped backoff. A plain URL stands for `{ url }`.
 */
export function createRedisClient(
  target: string | { readonly url: string; readonly tls?: RedisTlsFiles },
  options: RedisClientOptions,
): NodeRedisClient;
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): RedisClient;
export function createRedisClient(target: RedisTarget | string, options: RedisClientOptions): RedisClient {
  const resolved: RedisTarget = typeof target === 'string' ? { url: target } : target;
  const { commandTimeoutMs, maxInFlight, ...connection } = options;
  const client =
    'clusterNodes' in resolved
      ? new RedisClusterClient(resolved.clusterNodes, connection, resolved.tls)
      : createStandaloneClient(resolved.url, resolved.tls, connection);
  return withDeadlines(client, commandTimeoutMs, maxInFlight);
}

const GUARDED_COMMANDS = new Set<string | symbol>([...TYPED_COMMANDS, 'sendCommand', 'ping']);

/**
 * Times commands out and bounds how many await their replies, outside node-redis. Its own command
 * timeout unlinks a timed-out command from the queue of commands not yet written, and that list's
 * removal leaves the next node pointing back at the removed one: after two timeouts at its head the
 * queue detaches, and from then on every command waits unwritten until it times out, for good.
 * Here a command that timed out stays in node-redis' queue until Redis answers it, so the queue
 * stays whole, and the bound keeps such commands from piling up.
 */
function withDeadlines<T extends RedisClient>(
  client: T,
  timeoutMs: number | undefined,
  maxInFlight: number | undefined,
): T {
  if (timeoutMs === undefined && maxInFlight === undefined) return client;
  let inFlight = 0;
  const release = () => {
    inFlight--;
  };
  const guard = (send: () => Promise<unknown>, bounded: boolean): Promise<unknown> => {
    if (bounded && maxInFlight !== undefined && inFlight >= maxInFlight)
      return Promise.reject(new InFlightLimitError(maxInFlight));
    inFlight++;
    const reply = send();
    reply.then(release, release);
    if (timeoutMs === undefined) return reply;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError()), timeoutMs);
      reply.then(
        (value) => (clearTimeout(timer), resolve(value)),
        (error: unknown) => (clearTimeout(timer), reject(error)),
      );
    });
  };
  // The proxy stands on an object inheriting from the client (so instanceof still holds), since the
  // cluster client's frozen command properties may not be answered differently by a proxy of itself.
  return new Proxy(Object.create(client) as T, {
    get(_inheriting, property) {
      const value: unknown = Reflect.get(client, property, client);
      if (typeof value !== 'function') return value;
      // Bound to the client itself: node-redis keeps its state in private fields a proxy cannot reach.
      const bound = (value as (...args: unknown[]) => unknown).bind(client);
      if (!GUARDED_COMMANDS.has(property)) return bound;
      return (...args: unknown[]) => guard(() => bound(...args) as Promise<unknown>, property !== 'ping');
    },
  });
}

function createStandaloneClient(
  url: string,
  tls: RedisTlsFiles | undefined,
  { name, logger, connectTimeoutMs = 1_000 }: RedisClientOptions,
): NodeRedisClient {
  const client = createClient({
    url,
    name,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelay, ...tlsSocketOptions(tls) },
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

/**
 * WAIT for `replicas` replicas to hold the writes sent so far over the connection that wrote `key`,
 * and answers how many do. WAIT counts one connection's writes, so on a cluster it goes to the
 * connection serving `key`'s slot; plain `sendCommand(['WAIT', ...])` is refused there.
 */
export async function waitForReplicas(
  client: RedisClient,
  key: string,
  replicas: number,
  timeoutMs: number,
): Promise<number> {
  return Number(await sendToNodeOf(client, key, ['WAIT', String(replicas), String(timeoutMs)]));
}

/** Sends a command about one node (WAIT, INFO) to the node that holds `key`: on a cluster, its slot's primary. */
export function sendToNodeOf<T = unknown>(client: RedisClient, key: string, args: readonly string[]): Promise<T> {
  return client instanceof RedisClusterClient
    ? client.sendToSlotOf<T>(key, args)
    : (client.sendCommand(args) as Promise<T>);
}

/** Whether every key lives on the one server the client talks to, so a question about one node answers for all. */
export function isSingleNode(client: RedisClient): boolean {
  return !(client instanceof RedisClusterClient);
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
