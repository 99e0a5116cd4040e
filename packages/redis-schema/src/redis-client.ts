import type { RedisClientType } from '@redis/client';

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

export type NodeRedisClient = RedisClientType;

/**
 * What differs between a standalone server and a Redis Cluster, answered by the client that talks
 * to one of them: callers ask it rather than branch on the deployment.
 */
export interface RedisTopology {
  /**
   * Whether every key lives on the one server the client talks to, so that a command about many
   * keys (TS.MRANGE) or about the node (INFO, WAIT) answers for all of them.
   */
  readonly singleNode: boolean;
  /**
   * Keys of equal slotOf may share one multi-key command or script call, and are served by one
   * node: on a cluster the key's hash slot, on a standalone server 0 for every key.
   */
  slotOf(key: string): number;
  /**
   * Sends a command about one node (WAIT, INFO) to the node holding `key`: on a cluster, the primary
   * of its slot, over the connection that carried the writes to it.
   */
  sendToNodeOf<T = unknown>(key: string, args: readonly string[]): Promise<T>;
}

/**
 * What the services use of a Redis connection, in node-redis' own signatures plus the topology.
 * `sendCommand(args)` routes by the command's key on a cluster (see commandRoute). `ping()` asks
 * every primary of a cluster.
 */
export interface RedisClient
  extends
    Pick<NodeRedisClient, (typeof TYPED_COMMANDS)[number] | 'ping' | 'sendCommand' | 'close' | 'destroy'>,
    RedisTopology {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
}

const MAX_RECONNECT_DELAY_MS = 2_000;

/** Milliseconds before reconnect attempt `retries` (0-based): doubling from 50 ms up to 2 s. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 6), MAX_RECONNECT_DELAY_MS);
}

/**
 * The positions of `keys` grouped by the client's slotOf, each group in input order: what one
 * multi-key command per group takes, or one question per node.
 */
export function positionsBySlot(client: Pick<RedisTopology, 'slotOf'>, keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((key, position) => {
    const slot = client.slotOf(key);
    const group = groups.get(slot);
    if (group) group.push(position);
    else groups.set(slot, [position]);
  });
  return [...groups.values()];
}
