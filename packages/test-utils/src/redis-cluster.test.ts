import { RedisReplyError } from './redis-command';
import { startRedisCluster, type ClusterNode, type RedisCluster } from './redis-cluster';
import { ping } from './redis-server';

// The hash tags' slots (2127, 9084, 13861) fall in the first, second and last third of the slot space,
// which `redis-cli --cluster create` gives to three different primaries.
const KEYS = ['{two}:events', '{one}:events', '{three}:events'];

async function clusterInfo(node: ClusterNode): Promise<string> {
  return String(await node.command('CLUSTER', 'INFO'));
}

async function movedTarget(node: ClusterNode, key: string): Promise<string> {
  const error = await node.command('GET', key).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(RedisReplyError);
  return (error as Error).message;
}

describe('startRedisCluster', () => {
  let cluster: RedisCluster | undefined;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('serves every slot from three primaries and routes keys with different hash tags to different nodes', async () => {
    cluster = await startRedisCluster({ primaries: 3 });

    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.rootNodes.map(({ url }) => url)).toEqual(cluster.nodes.map(({ url }) => url));
    for (const node of cluster.nodes) {
      const info = await clusterInfo(node);
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
      expect(info).toContain('cluster_known_nodes:3');
      expect(await node.role()).toBe('primary');
    }

    const owners = await Promise.all(KEYS.map((key) => cluster!.primaryFor(key)));
    expect(new Set(owners.map((node) => node.port)).size).toBe(3);
    for (const [index, key] of KEYS.entries()) {
      const owner = owners[index]!;
      expect(await owner.command('SET', key, `value-${index}`)).toBe('OK');
      for (const other of cluster.nodes.filter((node) => node !== owner)) {
        expect(await movedTarget(other, key)).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${owner.port}$`));
      }
    }
  });

  it('promotes a killed primary’s replica and takes the old primary back as a replica', async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 });
    expect(cluster.nodes).toHaveLength(6);
    expect(await cluster.primaries()).toHaveLength(3);

    const key = KEYS[0]!;
    const primary = await cluster.primaryFor(key);
    const [replica] = await cluster.replicasOf(primary);
    expect(await replica!.role()).toBe('replica');
    // Replication is asynchronous: only a write its replica acknowledged survives the primary's crash.
    expect(await primary.pipeline(['SET', key, 'kept'], ['WAIT', '1', '2000'])).toEqual(['OK', 1]);

    const { promoted, elapsedMs } = await cluster.killPrimaryAndAwaitFailover(primary);

    expect(promoted).toBe(replica);
    // node timeout + failure agreement + the replica's 0.5-1 s election delay, with slack for a busy machine.
    expect(elapsedMs).toBeLessThan(cluster.nodeTimeoutMs + 4_000);
    expect(await promoted.role()).toBe('primary');
    expect(await cluster.primaryFor(key)).toBe(promoted);
    expect(await promoted.command('GET', key)).toBe('kept');
    for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
      expect(await clusterInfo(node)).toContain('cluster_state:ok');
    }

    await primary.restart();
    await cluster.waitUntilHealthy();

    expect(await primary.role()).toBe('replica');
    expect(await cluster.replicasOf(promoted)).toEqual([primary]);
    expect(await cluster.primaryFor(key)).toBe(promoted);
  });

  it('loses none of a paused primary’s writes once its replica is in sync, through a kill and a takeover', async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 });
    const key = KEYS[1]!;
    const primary = await cluster.primaryFor(key);
    const [replica] = await cluster.replicasOf(primary);
    const writes = 1_000;
    // Paused right after its writes, the primary takes no more, so the replica can catch up with all of them.
    await primary.pipeline(...Array.from({ length: writes }, () => ['INCR', key]), [
      'CLIENT',
      'PAUSE',
      '30000',
      'WRITE',
    ]);

    await cluster.awaitReplicasInSync(primary);

    expect(await replica!.pipeline(['READONLY'], ['GET', key])).toEqual(['OK', String(writes)]);
    const failover = await cluster.killPrimaryHoldingFailover(primary);
    const { promoted } = await failover.takeOver();
    expect(promoted).toBe(replica);
    expect(await cluster.primaryFor(key)).toBe(promoted);
    expect(await promoted.command('GET', key)).toBe(String(writes));
  });

  it('stop() ends every node, including one killed and restarted midway', async () => {
    cluster = await startRedisCluster({ primaries: 3 });
    const [first] = cluster.nodes;
    await first!.kill();
    expect(await ping(first!.port)).toBe(false);
    await first!.restart();

    await cluster.stop();

    for (const node of cluster.nodes) expect(await ping(node.port)).toBe(false);
  });
});
