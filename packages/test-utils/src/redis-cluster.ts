import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { redisCommand, redisPipeline, type RespReply } from './redis-command';
import { freePort, startRedisServer, waitUntil, type RedisServer } from './redis-server';

export type ClusterRole = 'primary' | 'replica';

export interface ClusterNode {
  readonly url: string;
  readonly port: number;
  /** The node's cluster id; it survives restart() because it lives in the node's nodes.conf. */
  readonly id: string;
  /** False between kill() and restart(). */
  readonly running: boolean;
  /** What the node itself says (ROLE), which changes with failovers. */
  role(): Promise<ClusterRole>;
  /** Sends one command to this node only, bypassing cluster routing. */
  command(...args: string[]): Promise<RespReply>;
  /** Sends commands to this node over one connection, e.g. a write followed by WAIT for its replica. */
  pipeline(...commands: (readonly string[])[]): Promise<RespReply[]>;
  /** SIGKILL: to the cluster this looks like a crash, detected after the node timeout. */
  kill(): Promise<void>;
  /** Starts the node again with its nodes.conf, so it rejoins as the same node. */
  restart(): Promise<void>;
}

export interface Failover {
  /** The replica that now serves the killed primary's slots. */
  readonly promoted: ClusterNode;
  /** From the kill until the replica reported itself primary. */
  readonly elapsedMs: number;
}

/** A primary killed while its replicas wait to be told to take over. */
export interface HeldFailover {
  /** The replica `takeOver` promotes. */
  readonly replica: ClusterNode;
  /** CLUSTER FAILOVER TAKEOVER on the replica, then waits until the cluster is healthy again. */
  takeOver(timeoutMs?: number): Promise<Failover>;
}

export interface RedisCluster {
  /** Seeds for node-redis' createCluster({ rootNodes }). */
  readonly rootNodes: readonly { readonly url: string }[];
  readonly nodes: readonly ClusterNode[];
  readonly nodeTimeoutMs: number;
  /** The node currently serving the key's slot, as a running node sees the slot map. */
  primaryFor(key: string): Promise<ClusterNode>;
  /** The nodes currently serving slots. */
  primaries(): Promise<ClusterNode[]>;
  replicasOf(primary: ClusterNode): Promise<ClusterNode[]>;
  /**
   * Resolves once every running node says cluster_state:ok, all of them agree on which node serves
   * which slots and which replica follows which primary, and every running replica's link to its
   * primary is up with no sync in progress.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills a primary and waits until one of its replicas has taken over and the cluster is healthy again. */
  killPrimaryAndAwaitFailover(primary: ClusterNode, timeoutMs?: number): Promise<Failover>;
  /**
   * Kills a primary whose replicas may not fail over by themselves (cluster-replica-no-failover), so
   * its slots stay without a primary for exactly as long as the test needs, however loaded the machine.
   */
  killPrimaryHoldingFailover(primary: ClusterNode): Promise<HeldFailover>;
  /**
   * Resolves once every replica of `primary` has applied all the primary has sent it (equal
   * replication offsets). With the primary's writes paused (CLIENT PAUSE WRITE) this stays true, so
   * a kill then loses nothing: not the last writes, nor the consumer groups' last reads and acks.
   */
  awaitReplicasInSync(primary: ClusterNode, timeoutMs?: number): Promise<void>;
  /** A planned failover (CLUSTER FAILOVER on the replica): no writes are lost and no node timeout is waited. */
  promote(replica: ClusterNode, timeoutMs?: number): Promise<void>;
  /** Stops every node and removes its directory, whatever state the cluster is in. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  readonly primaries?: number;
  readonly replicasPerPrimary?: number;
  /**
   * cluster-node-timeout. It bounds how fast a dead primary is replaced: others flag it PFAIL after
   * this long without a pong, FAIL once a majority of primaries agree (gossip, well under a second
   * here), and its replica then waits 500-1000 ms (plus 1 s per better-ranked sibling) before asking for
   * votes. Failover therefore takes about nodeTimeoutMs + 1-1.5 s. Meanwhile the cluster refuses
   * commands for the dead primary's slots, and with the default cluster-require-full-coverage every
   * node answers CLUSTERDOWN for every slot from the moment the primary is flagged FAIL until the
   * promotion. Too small a value makes a busy machine's scheduling hiccup look like a crash.
   */
  readonly nodeTimeoutMs?: number;
}

const execFileAsync = promisify(execFile);

export function hasRedisCliBinary(): boolean {
  return spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts nodes concurrently; if any fails, those that started are stopped before rethrowing. */
async function startAll(count: number, start: () => Promise<RedisServer>): Promise<RedisServer[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, start));
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  if (failure) {
    await Promise.allSettled(started.map((server) => server.stop()));
    throw failure.reason;
  }
  return started;
}

export interface ClusterNodeOptions {
  /** cluster-node-timeout, see RedisClusterOptions. */
  readonly nodeTimeoutMs: number;
  /**
   * The node's nodes.conf outside the server's throwaway directory: a node started later on it, on
   * other ports, is the same node and still names its peers at their old addresses.
   */
  readonly configFile?: string;
  /** requirepass, and masterauth for replicas to sync with it. */
  readonly password?: string;
}

/**
 * Starts one cluster-enabled `redis-server` on free ports, not yet part of any cluster. Another
 * process may take a free port before the server binds it, and a node needs two, so a node that fails
 * to start is tried again on fresh ports.
 */
export async function startClusterNode(options: ClusterNodeOptions, attempts = 3): Promise<RedisServer> {
  try {
    return await startClusterNodeOnce(options);
  } catch (error) {
    if (attempts <= 1) throw error;
    return startClusterNode(options, attempts - 1);
  }
}

async function startClusterNodeOnce({
  nodeTimeoutMs,
  configFile = 'nodes.conf',
  password,
}: ClusterNodeOptions): Promise<RedisServer> {
  // The bus port defaults to port + 10000, which overflows for ports from the upper ephemeral range.
  const busPort = await freePort();
  return startRedisServer({
    ...(password === undefined ? {} : { password }),
    args: [
      ...(password === undefined ? [] : ['--masterauth', password]),
      '--cluster-enabled',
      'yes',
      // Relative paths resolve inside --dir, the server's throwaway directory.
      '--cluster-config-file',
      configFile,
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      '--cluster-port',
      String(busPort),
      // Replicas (and restarted primaries rejoining as replicas) would otherwise wait 5 s before their full sync.
      '--repl-diskless-sync-delay',
      '0',
    ],
  });
}

/** The `field:value` lines of an INFO or CLUSTER INFO reply. */
async function infoFields(port: number, args: readonly string[]): Promise<Map<string, string>> {
  return new Map(
    String(await redisCommand(port, args))
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as [string, string]),
  );
}

interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly port: number;
}

async function slotRanges(port: number): Promise<SlotRange[]> {
  const reply = (await redisCommand(port, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number, ...unknown[]]][];
  return reply
    .map(([start, end, [, primaryPort]]) => ({ start, end, port: primaryPort }))
    .sort((left, right) => left.start - right.start);
}

/**
 * Which primary each replica follows, as one node's view (CLUSTER NODES) has it, leaving out nodes it
 * flags as failing. Views learn a new replica by gossip, a moment after the replica itself knows.
 */
async function replicaAssignments(port: number): Promise<string> {
  const lines = String(await redisCommand(port, ['CLUSTER', 'NODES']))
    .split('\n')
    .filter(Boolean);
  const assignments = lines
    .map((line) => line.split(' '))
    .filter(([, , flags = '']) => flags.split(',').includes('slave') && !flags.includes('fail'))
    .map(([id, , , primaryId]) => `${id}>${primaryId}`);
  return JSON.stringify(assignments.sort());
}

/** Starts a Redis Cluster of private `redis-server` processes and waits until it serves every slot. */
export async function startRedisCluster({
  primaries: primaryCount = 3,
  replicasPerPrimary = 0,
  nodeTimeoutMs = 1_000,
}: RedisClusterOptions = {}): Promise<RedisCluster> {
  if (!hasRedisCliBinary()) {
    throw new Error('startRedisCluster needs redis-cli (Debian/Ubuntu: apt-get install redis-tools)');
  }
  const servers = await startAll(primaryCount * (1 + replicasPerPrimary), () => startClusterNode({ nodeTimeoutMs }));
  const stop = async () => {
    await Promise.allSettled(servers.map((server) => server.stop()));
  };

  try {
    // redis-cli makes the first `primaryCount` addresses primaries and spreads the rest over them as replicas.
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...servers.map((server) => `127.0.0.1:${server.port}`),
      '--cluster-replicas',
      String(replicasPerPrimary),
      '--cluster-yes',
    ]);
    const nodes = await Promise.all(servers.map(async (server) => clusterNode(server)));
    const cluster = assembleCluster(nodes, nodeTimeoutMs, stop);
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

async function clusterNode(server: RedisServer): Promise<ClusterNode> {
  const id = String(await redisCommand(server.port, ['CLUSTER', 'MYID']));
  let running = true;
  return {
    url: server.url,
    port: server.port,
    id,
    get running() {
      return running;
    },
    role: async () => {
      const [role] = (await redisCommand(server.port, ['ROLE'])) as [string];
      return role === 'master' ? 'primary' : 'replica';
    },
    command: (...args) => redisCommand(server.port, args),
    pipeline: (...commands) => redisPipeline(server.port, commands),
    kill: async () => {
      running = false;
      await server.kill();
    },
    restart: async () => {
      await server.restart();
      running = true;
    },
  };
}

function assembleCluster(
  nodes: readonly ClusterNode[],
  nodeTimeoutMs: number,
  stop: () => Promise<void>,
): RedisCluster {
  const byPort = (port: number) => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on port ${port}`);
    return node;
  };
  const anyRunning = () => {
    const node = nodes.find((candidate) => candidate.running);
    if (!node) throw new Error('every node of the cluster is down');
    return node;
  };

  const primaryFor = async (key: string) => {
    const { port } = anyRunning();
    const slot = Number(await redisCommand(port, ['CLUSTER', 'KEYSLOT', key]));
    const range = (await slotRanges(port)).find(({ start, end }) => start <= slot && slot <= end);
    if (!range) throw new Error(`no node serves slot ${slot} (key ${key})`);
    return byPort(range.port);
  };

  const primaries = async () => {
    const ports = new Set((await slotRanges(anyRunning().port)).map((range) => range.port));
    return nodes.filter((node) => ports.has(node.port));
  };

  const replicasOf = async (primary: ClusterNode) => {
    const lines = String(await redisCommand(anyRunning().port, ['CLUSTER', 'REPLICAS', primary.id])).split('\n');
    const ids = new Set(lines.filter(Boolean).map((line) => line.split(' ')[0]));
    return nodes.filter((node) => ids.has(node.id));
  };

  const replicationOffset = async (node: ClusterNode, field: 'master_repl_offset' | 'slave_repl_offset') =>
    Number((await infoFields(node.port, ['INFO', 'replication'])).get(field));

  const isHealthy = async () => {
    const running = nodes.filter((node) => node.running);
    try {
      const views = await Promise.all(
        running.map(async (node) => {
          const [cluster, replication, ranges, replicas] = await Promise.all([
            infoFields(node.port, ['CLUSTER', 'INFO']),
            infoFields(node.port, ['INFO', 'replication']),
            slotRanges(node.port),
            replicaAssignments(node.port),
          ]);
          const replicaInSync =
            replication.get('role') !== 'slave' ||
            (replication.get('master_link_status') === 'up' && replication.get('master_sync_in_progress') === '0');
          return {
            ok: cluster.get('cluster_state') === 'ok' && replicaInSync,
            slotMap: JSON.stringify(ranges),
            replicas,
            servingPorts: ranges.map((range) => range.port),
          };
        }),
      );
      // Until the node timeout passes, the others still map slots to a primary that was just killed.
      const servedByRunningNodes = running.length > 0 && views[0]!.servingPorts.every((port) => byPort(port).running);
      const [first] = views;
      return (
        servedByRunningNodes &&
        views.every((view) => view.ok && view.slotMap === first!.slotMap && view.replicas === first!.replicas)
      );
    } catch {
      // A node still starting, or one that just died, is simply not healthy yet.
      return false;
    }
  };

  const waitUntilHealthy = (timeoutMs = 10_000 + 2 * nodeTimeoutMs) =>
    waitUntil(
      isHealthy,
      timeoutMs,
      'every running cluster node to report cluster_state:ok with one slot map, one set of replicas, and replicas in sync',
    );

  return {
    rootNodes: nodes.map(({ url }) => ({ url })),
    nodes,
    nodeTimeoutMs,
    primaryFor,
    primaries,
    replicasOf,
    waitUntilHealthy,
    killPrimaryAndAwaitFailover: async (primary, timeoutMs = 5 * nodeTimeoutMs + 5_000) => {
      const candidates = await replicasOf(primary);
      if (candidates.length === 0) throw new Error(`primary on port ${primary.port} has no replica to fail over to`);
      const killedAt = Date.now();
      await primary.kill();
      let promoted: ClusterNode | undefined;
      await waitUntil(
        async () => {
          for (const candidate of candidates) {
            if ((await candidate.role().catch(() => undefined)) === 'primary') promoted = candidate;
          }
          return promoted !== undefined;
        },
        timeoutMs,
        `a replica of the killed primary on port ${primary.port} to be promoted`,
      );
      const elapsedMs = Date.now() - killedAt;
      await waitUntilHealthy();
      return { promoted: promoted!, elapsedMs };
    },
    killPrimaryHoldingFailover: async (primary) => {
      const replicas = await replicasOf(primary);
      const [replica] = replicas;
      if (replica === undefined) throw new Error(`primary on port ${primary.port} has no replica to fail over to`);
      const allowFailover = (allowed: boolean) =>
        Promise.all(
          replicas.map((one) => one.command('CONFIG', 'SET', 'cluster-replica-no-failover', allowed ? 'no' : 'yes')),
        );
      await allowFailover(false);
      const killedAt = Date.now();
      await primary.kill();
      return {
        replica,
        takeOver: async (timeoutMs = 10_000) => {
          // TAKEOVER needs neither the dead primary nor the other primaries' votes.
          await replica.command('CLUSTER', 'FAILOVER', 'TAKEOVER');
          await waitUntil(
            async () => (await replica.role()) === 'primary',
            timeoutMs,
            `replica on port ${replica.port} to take over`,
          );
          const elapsedMs = Date.now() - killedAt;
          await allowFailover(true);
          await waitUntilHealthy();
          return { promoted: replica, elapsedMs };
        },
      };
    },
    awaitReplicasInSync: async (primary, timeoutMs = 10_000) => {
      const replicas = await replicasOf(primary);
      if (replicas.length === 0) throw new Error(`primary on port ${primary.port} has no replica`);
      await waitUntil(
        async () => {
          const sent = await replicationOffset(primary, 'master_repl_offset');
          const applied = await Promise.all(replicas.map((replica) => replicationOffset(replica, 'slave_repl_offset')));
          return applied.every((offset) => offset === sent);
        },
        timeoutMs,
        `the replicas of the primary on port ${primary.port} to apply all it sent them`,
      );
    },
    promote: async (replica, timeoutMs = 10_000) => {
      await replica.command('CLUSTER', 'FAILOVER');
      await waitUntil(
        async () => (await replica.role()) === 'primary',
        timeoutMs,
        `replica on port ${replica.port} to be promoted`,
      );
      await waitUntilHealthy();
    },
    stop,
  };
}
