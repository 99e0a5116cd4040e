import { TimeoutError } from '@redis/client';
import { RedisClusterClient } from './cluster/cluster-client';
import {
  TYPED_COMMANDS,
  type NodeRedisClient,
  type RedisClient,
  type RedisClientOptions,
  type RedisTarget,
  type RedisTlsFiles,
  type RedisTopology,
} from './redis-client';
import { InFlightLimitError } from './redis-errors';
import { createStandaloneClient } from './standalone-client';

/**
 * A client that fails commands at once while disconnected instead of queueing them in process memory
 * (an ingest answer must never claim an event that is not in Redis), and keeps reconnecting in the
 * background with a capped backoff. A plain URL stands for `{ url }`. The target alone decides the
 * topology: cluster seeds give the cluster client, a URL the standalone one.
 */
export function createRedisClient(
  target: string | { readonly url: string; readonly tls?: RedisTlsFiles },
  options: RedisClientOptions,
): NodeRedisClient & RedisTopology;
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

const GUARDED_COMMANDS = new Set<string | symbol>([...TYPED_COMMANDS, 'sendCommand', 'sendToNodeOf', 'ping']);

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
  // The proxy stands on an object inheriting from the client, since the cluster client's frozen
  // command properties may not be answered differently by a proxy of itself.
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
  return Number(await client.sendToNodeOf(key, ['WAIT', String(replicas), String(timeoutMs)]));
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
