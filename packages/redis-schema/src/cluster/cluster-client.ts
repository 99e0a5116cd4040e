import { setTimeout as sleep } from 'node:timers/promises';
import { ClientClosedError, createCluster, type RedisArgument } from '@redis/client';
import {
  reconnectDelay,
  TYPED_COMMANDS,
  type RedisClient,
  type RedisClientOptions,
  type RedisTlsFiles,
  type RedisTopology,
} from '../redis-client';
import { isConnectionError } from '../redis-errors';
import { commandRoute } from './command-route';
import { keySlot } from './key-slot';

type Cluster = ReturnType<typeof createClusterConnection>;
type NodeClient = Awaited<ReturnType<Cluster['nodeClient']>>;
type SendCommand = RedisClient['sendCommand'];

/**
 * node-redis refreshes its slot map only when a node answers MOVED or ASK, which a dead primary
 * never does; after a failover the map is refreshed by this client, at most this often.
 */
const SLOT_MAP_REFRESH_INTERVAL_MS = 250;

/**
 * node-redis reaches the nodes a seed reveals by address alone, with `defaults`: they get the seeds'
 * user and password, and TLS when the seeds use rediss:// (the config refuses seeds that differ).
 */
function nodeAccess(seed: string, tls: RedisTlsFiles | undefined) {
  const { protocol, username, password } = new URL(seed);
  return {
    ...(username === '' ? {} : { username: decodeURIComponent(username) }),
    ...(password === '' ? {} : { password: decodeURIComponent(password) }),
    socket: protocol === 'rediss:' ? { tls: true as const, ...tls } : {},
  };
}

function createClusterConnection(
  rootNodes: readonly string[],
  tls: RedisTlsFiles | undefined,
  { name, connectTimeoutMs = 1_000 }: RedisClientOptions,
  reconnectStrategy: (retries: number) => number | false,
) {
  const { socket, ...credentials } = nodeAccess(rootNodes[0]!, tls);
  return createCluster({
    rootNodes: rootNodes.map((url) => ({ url })),
    RESP: 2,
    // Replicas lag their primary: a read there could miss an event the ingest API acknowledged.
    useReplicas: false,
    defaults: {
      name,
      disableOfflineQueue: true,
      ...credentials,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy, ...socket },
    },
  });
}

/**
 * A RedisClient on a Redis Cluster: node-redis' cluster client, plus routing of raw commands by
 * their key (commandRoute), a slot map that follows failovers, and a connect() that keeps trying
 * the seed nodes until one answers, as the standalone client keeps reconnecting.
 *
 * It holds one connection per primary, shared by every command, so a blocking read (XREADGROUP
 * BLOCK) would stall every other command to that primary: blocking reads need a client of their own.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface below types what the constructor adds
export class RedisClusterClient implements RedisTopology {
  /** Each primary holds its own slots: a multi-key command names keys of one slot only. */
  readonly singleNode = false;
  private readonly cluster: Cluster;
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAtMs = 0;

  constructor(rootNodes: readonly string[], options: RedisClientOptions, tls?: RedisTlsFiles) {
    // A closed client stops reconnecting, so a rediscovery still connecting to a dead node settles.
    this.cluster = createClusterConnection(rootNodes, tls, options, (retries) =>
      this.closed ? false : reconnectDelay(retries),
    );
    const { logger, name } = options;
    // One line per outage of a node, not one per reconnect attempt.
    const reported = new Set<string>();
    this.cluster.on('error', (error: Error) => {
      if (!reported.has('discovery')) logger.warn({ err: error, connection: name }, 'redis cluster discovery failed');
      reported.add('discovery');
    });
    this.cluster.on('connect', () => reported.delete('discovery'));
    this.cluster.on('node-error', (error: Error, node: { host: string; port: number }) => {
      const address = `${node.host}:${node.port}`;
      if (!reported.has(address))
        logger.warn({ err: error, connection: name, node: address }, 'redis connection error');
      reported.add(address);
      this.refreshSlotMap();
    });
    this.cluster.on('node-ready', (node: { host: string; port: number }) =>
      reported.delete(`${node.host}:${node.port}`),
    );
    for (const command of TYPED_COMMANDS) {
      const method = this.cluster[command] as (...args: unknown[]) => Promise<unknown>;
      Object.defineProperty(this, command, {
        value: (...args: unknown[]) => this.observe(method.apply(this.cluster, args)),
      });
    }
  }

  get isOpen(): boolean {
    return this.cluster.isOpen;
  }

  async connect(): Promise<this> {
    this.closed = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.cluster.connect();
        return this;
      } catch (error) {
        if (this.closed) throw error;
        await sleep(reconnectDelay(attempt));
        if (this.closed) throw new ClientClosedError();
      }
    }
  }

  close(): Promise<void> {
    this.closed = true;
    const closing = this.cluster.close();
    this.destroyAfterRefresh();
    return closing;
  }

  destroy(): void {
    this.closed = true;
    this.cluster.destroy();
    this.destroyAfterRefresh();
  }

  /**
   * node-redis' rediscovery does not notice a close while it asks for the slot map, and then opens a
   * connection to every node, which would keep the process alive: those are closed once it ends.
   */
  private destroyAfterRefresh(): void {
    void this.refreshing?.finally(() => this.cluster.destroy());
  }

  ping(): Promise<string> {
    return this.sendCommand(['PING']);
  }

  readonly sendCommand: SendCommand = async <T>(
    args: readonly RedisArgument[],
    options?: Parameters<SendCommand>[1],
  ) => {
    const route = commandRoute(args);
    if (route.to === 'slot') return this.observe(this.cluster.sendCommand<T>(route.key, false, [...args], options));
    const primaries = await this.observe(this.primaryClients());
    if (route.to === 'any-primary') return this.observe(primaries[0]!.sendCommand<T>(args, options));
    // Every primary must take it (a script cache they must all hold); they answer alike.
    const replies = await this.observe(Promise.all(primaries.map((client) => client.sendCommand<T>(args, options))));
    return replies[0]!;
  };

  slotOf(key: string): number {
    return keySlot(key);
  }

  /** Sends `args` over the connection that serves `key`'s slot, e.g. a WAIT after a write to that key. */
  sendToNodeOf<T>(key: string, args: readonly string[]): Promise<T> {
    return this.observe(this.cluster.sendCommand<T>(key, false, [...args]));
  }

  /** The clients of the current primaries, those with a live connection first. */
  private async primaryClients(): Promise<NodeClient[]> {
    const { masters } = this.cluster;
    if (masters.length === 0) throw new ClientClosedError();
    const clients = await Promise.all(masters.map((master) => this.cluster.nodeClient(master)));
    return clients.sort((left, right) => Number(right.isReady) - Number(left.isReady));
  }

  private observe<T>(reply: Promise<T>): Promise<T> {
    return reply.catch((error: unknown) => {
      if (isConnectionError(error)) this.refreshSlotMap();
      throw error;
    });
  }

  /**
   * Asks a reachable primary for the slot map (falling back to the seed nodes), so the slots of a
   * dead primary move to the replica promoted in its place.
   */
  private refreshSlotMap(): void {
    const now = Date.now();
    if (this.closed || this.refreshing !== undefined || now - this.lastRefreshAtMs < SLOT_MAP_REFRESH_INTERVAL_MS)
      return;
    const { masters } = this.cluster;
    const start = (masters.find((master) => master.client?.isReady) ?? masters.find((master) => master.client))?.client;
    if (start === undefined) return;
    this.lastRefreshAtMs = now;
    this.refreshing = this.cluster._slots
      .rediscover(start)
      // A failed discovery is reported through the cluster's 'error' event; the next failure tries again.
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = undefined;
      });
  }
}

/** What the constructor's loop adds: node-redis' own typed commands, routed by their key. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface RedisClusterClient extends Pick<RedisClient, (typeof TYPED_COMMANDS)[number]> {}
