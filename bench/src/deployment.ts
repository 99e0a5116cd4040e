import { createRedisClient, type RedisClient, type RedisLogger } from '@redis-ingest/redis-schema';
import { startRedisCluster } from '@redis-ingest/test-utils';
import { infoField } from './ceiling';
import { parseCommandStats, type CommandStat } from './command-stats';
import type { ProcessRegistry } from './processes';
import type { Topology } from './shards';

/**
 * No failover is exercised, and a short node timeout would let a primary starved of CPU on a busy
 * box be flagged as failed halfway through a phase.
 */
const CLUSTER_NODE_TIMEOUT_MS = 15_000;

/** One primary, addressed directly rather than through cluster routing. */
export interface DeploymentNode {
  readonly port: number;
  command(...args: string[]): Promise<unknown>;
}

/** A Redis the services run against: one server, or the primaries of a cluster. */
export interface Deployment {
  readonly topology: Topology;
  /** REDIS_URL for the services, plus REDIS_CLUSTER_NODES on a cluster. */
  readonly url: string;
  readonly serviceEnv: Readonly<Record<string, string>>;
  /** Sends each command to the node of its key. */
  readonly client: RedisClient;
  readonly nodes: readonly DeploymentNode[];
  /** The node that holds `key`. */
  nodeFor(key: string): Promise<DeploymentNode>;
  /** FLUSHALL on every node. */
  flush(): Promise<void>;
  /** Stops what this deployment started itself. */
  stop(): Promise<void>;
}

/** CPU seconds (user + system, main thread and background threads) the node has used since it started. */
export async function redisCpuSeconds(node: DeploymentNode): Promise<number> {
  const info = String(await node.command('INFO', 'cpu'));
  return Number(infoField(info, 'used_cpu_sys')) + Number(infoField(info, 'used_cpu_user'));
}

/** Calls and time per command the node has spent since it started (or its stats were reset). */
export async function redisCommandStats(node: DeploymentNode): Promise<Map<string, CommandStat>> {
  return parseCommandStats(String(await node.command('INFO', 'commandstats')));
}

export async function redisUsedMemory(node: DeploymentNode): Promise<number> {
  return Number(infoField(String(await node.command('INFO', 'memory')), 'used_memory'));
}

/** The server the rest of the bench runs on, started and stopped by its caller. */
export function singleDeployment(url: string, client: RedisClient): Deployment {
  const node: DeploymentNode = {
    port: Number(new URL(url).port || 6379),
    command: (...args) => client.sendCommand(args),
  };
  return {
    topology: 'single',
    url,
    serviceEnv: {},
    client,
    nodes: [node],
    nodeFor: async () => node,
    flush: async () => {
      await node.command('FLUSHALL');
    },
    stop: async () => undefined,
  };
}

/** A cluster of `primaries` private redis-server processes without replicas, with a routing client. */
export async function startClusterDeployment(
  primaries: number,
  registry: ProcessRegistry,
  logger: RedisLogger,
): Promise<Deployment> {
  const cluster = await startRedisCluster({ primaries, replicasPerPrimary: 0, nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS });
  const pids: number[] = [];
  const clusterNodes = cluster.rootNodes.map(({ url }) => url);
  const client = createRedisClient({ clusterNodes }, { name: 'bench', logger });
  const stop = async () => {
    client.destroy();
    await cluster.stop();
    for (const pid of pids) registry.release(pid);
  };
  try {
    for (const node of cluster.nodes) {
      const pid = Number(infoField(String(await node.command('INFO', 'server')), 'process_id'));
      registry.adopt(pid);
      pids.push(pid);
    }
    await client.connect();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    topology: 'cluster',
    url: cluster.nodes[0]!.url,
    serviceEnv: { REDIS_CLUSTER_NODES: clusterNodes.join(',') },
    client,
    nodes: cluster.nodes,
    nodeFor: (key) => cluster.primaryFor(key),
    flush: async () => {
      await Promise.all(cluster.nodes.map((node) => node.command('FLUSHALL')));
    },
    stop,
  };
}
