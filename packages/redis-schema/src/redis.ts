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
  createClient,
  type RedisClientType,
} from '@redis/client';
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
export type RedisTarget = ({ readonly url: string } | { readonly clusterNodes: readonly string[] }) & { readonly tls?: RedisTlsFiles };

/** Socket options of a connection over TLS with `files`; none without files, where the URL decides. */
export function tlsSocketOptions(files: RedisTlsFiles | undefined): { tls: true } & RedisTlsFiles | Record<string, never> {
  return files === undefined ? {} : { tls: true, ...files };
}

/**
 * The commands the services call by name. The cluster client delegates each of them to node-redis'
 * cluster client, which routes them by their key.
 */
export const TYPED_COMMANDS = [
  'xAdd', 'xLen', 'xRange', 'xRevRange', 'xDel', 'xAck', 'xTrim', 'xReadGroup', 'xGroupCreate', 'xInfoGroups',
  'xInfoConsumers', 'xPending', 'hGet', 'hGetAll', 'hSet', 'hSetNX', 'hLen', 'hDel', 'exists', 'set', 'del', 'pTTL',
] as const;

type NodeRedisClient = RedisClientType;

/**
 * What the services use of a Redis connection, in node-redis' own signatures: the node-redis client
 * of a standalone server is one as it is, and so is the cluster client. `sendCommand(args)` routes
 * by the command's key on a cluster (see commandRoute). `ping()` asks every primary of a cluster.
 */
export interface RedisClient
  extends Pick<NodeRedisClient, (typeof TYPED_COMMANDS)[number] | 'ping' | 'sendCommand' | 'close' | 'destroy'> {
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
export function createRedisClient(target: string | { readonly url: string; readonly tls?: RedisTlsFiles }, options: RedisClientOptions): NodeRedisClient;
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): RedisClient;
export function createRedisClient(target: RedisTarget | string, options: RedisClientOptions): RedisClient {
  const resolved: RedisTarget = typeof target === 'string' ? { url: target } : target;
  if ('clusterNodes' in resolved) return new RedisClusterClient(resolved.clusterNodes, options, resolved.tls);
  return createStandaloneClient(resolved.url, resolved.tls, options);
}

function createStandaloneClient(
  url: string,
  tls: RedisTlsFiles | undefined,
  { name, logger, connectTimeoutMs = 1_000, commandTimeoutMs }: RedisClientOptions,
): NodeRedisClient {
  const client = createClient({
    url,
    name,
    RESP: 2,
    disableOfflineQueue: true,
    ...(commandTimeoutMs === undefined ? {} : { commandOptions: { timeout: commandTimeoutMs } }),
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

const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  TimeoutError,
];

/**
 * Replies of a cluster whose slot has no reachable primary for now: a failover is under way, so they
 * mean "try again shortly" as much as a lost connection does.
 */
const CLUSTER_UNAVAILABLE_REPLY = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN)\b/;

/** Errors that mean "Redis was not reachable", as opposed to a command Redis refused. */
export function isConnectionError(error: unknown): boolean {
  if (CONNECTION_ERRORS.some((type) => error instanceof type)) return true;
  if (error instanceof ErrorReply) return CLUSTER_UNAVAILABLE_REPLY.test(error.message);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code);
}

/**
 * WAIT for `replicas` replicas to hold the writes sent so far over the connection that wrote `key`,
 * and answers how many do. WAIT counts one connection's writes, so on a cluster it goes to the
 * connection serving `key`'s slot; plain `sendCommand(['WAIT', ...])` is refused there.
 */
export async function waitForReplicas(client: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  const args = ['WAIT', String(replicas), String(timeoutMs)];
  return Number(client instanceof RedisClusterClient ? await client.sendToSlotOf(key, args) : await client.sendCommand(args));
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
