import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorReply } from '@redis/client';
import { isolatedConfig, startRedisCluster, waitUntil, type RedisCluster } from '@redis-ingest/test-utils';
import { ClusterRoutingError } from './command-route';
import { REPLY_WITH_IDS, appendToPartitions } from '../ingest/append';
import { createKeys, type Keys } from '../keys';
import { RedisScript } from '../redis-script';
import { readPartitionQueueStats, readQueueStats } from '../queue-stats';
import { createRedisClient, waitForReplicas } from '../redis';
import type { RedisClient } from '../redis-client';
import { eventFields } from '../stream-entry';
import { isConnectionError } from '../redis-errors';

const silent = { warn: () => undefined };
const echoFirstKey = new RedisScript('echo-first-key', "return redis.call('GET', KEYS[1])");

/** Keys of three partitions, whose slots lie on the three primaries of a freshly created cluster. */
function clusterKeys(cluster: RedisCluster): Keys {
  return createKeys(
    isolatedConfig(cluster.nodes[0]!.url, { REDIS_CLUSTER_NODES: cluster.nodes[0]!.url, INGEST_STREAM_PARTITIONS: '3' })
      .keys,
  );
}

describe('the Redis Cluster client', () => {
  let cluster: RedisCluster;
  let client: RedisClient;
  let keys: Keys;

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 });
    client = createRedisClient(
      { clusterNodes: cluster.rootNodes.map(({ url }) => url) },
      { name: 'cluster-test', logger: silent, commandTimeoutMs: 2_000 },
    );
    await client.connect();
    keys = clusterKeys(cluster);
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await cluster?.stop();
  });

  it('spreads the partitions over the three primaries', async () => {
    const owners = await Promise.all(keys.partitions.map(({ stream }) => cluster.primaryFor(stream)));
    expect(new Set(owners.map(({ port }) => port)).size).toBe(3);
  });

  it('routes typed commands and raw commands to the node of their key', async () => {
    for (const { stream, deadLetter } of keys.partitions) {
      const owner = await cluster.primaryFor(stream);
      const id = await client.xAdd(stream, '*', { n: '1' });
      expect(await owner.command('XLEN', stream)).toBe(1);
      expect(await client.sendCommand(['XADD', stream, '*', 'n', '2'])).toMatch(/^\d+-\d+$/);
      expect(await client.xLen(stream)).toBe(2);
      expect((await client.xRange(stream, '-', '+')).map((entry) => entry.message.n)).toEqual(['1', '2']);
      await client.sendCommand(['XGROUP', 'CREATE', stream, 'workers', '0']);
      const [group] = (await client.sendCommand(['XINFO', 'GROUPS', stream])) as unknown as unknown[][];
      expect(group).toContain('workers');
      const read = (await client.sendCommand([
        'XREADGROUP',
        'GROUP',
        'workers',
        'c',
        'COUNT',
        '1',
        'STREAMS',
        stream,
        '>',
      ])) as unknown as [string, [string][]][];
      expect(read[0]![1][0]![0]).toBe(id);
      expect(await client.xAck(stream, 'workers', id)).toBe(1);
      await client.hSet(deadLetter, 'field', 'value');
      expect(await client.hGet(deadLetter, 'field')).toBe('value');
    }
  });

  it('loads scripts on every primary and runs them by their first key', async () => {
    const sha = await client.sendCommand(['SCRIPT', 'LOAD', echoFirstKey.source]);
    expect(sha).toBe(echoFirstKey.sha);
    for (const primary of await cluster.primaries())
      expect(await primary.command('SCRIPT', 'EXISTS', echoFirstKey.sha)).toEqual([1]);
    for (const { stream } of keys.partitions) {
      const key = `${stream}:value`;
      await client.set(key, stream);
      expect(await echoFirstKey.run(client, [key], [])).toBe(stream);
    }
  });

  it('runs a script by EVAL on a primary that lost it', async () => {
    const key = `${keys.partitions[1]!.stream}:value`;
    await client.set(key, 'kept');
    const owner = await cluster.primaryFor(key);
    await owner.command('SCRIPT', 'FLUSH');
    expect(await echoFirstKey.run(client, [key], [])).toBe('kept');
    expect(await owner.command('SCRIPT', 'EXISTS', echoFirstKey.sha)).toEqual([1]);
  });

  it('pings every primary, asks one for INFO, and refuses a bare WAIT', async () => {
    expect(await client.ping()).toBe('PONG');
    expect(String(await client.sendCommand(['INFO', 'server']))).toContain('redis_version');
    await expect(client.sendCommand(['WAIT', '1', '100'])).rejects.toThrow(ClusterRoutingError);
    const key = keys.partitions[2]!.stream;
    await client.xAdd(key, '*', { n: 'replicated' });
    expect(await waitForReplicas(client, key, 1, 1_000)).toBe(1);
  });

  it('appends events into their sources’ partitions and counts the queue per partition', async () => {
    const config = isolatedConfig(cluster.nodes[0]!.url, {
      REDIS_CLUSTER_NODES: cluster.nodes[0]!.url,
      INGEST_STREAM_PARTITIONS: '3',
    });
    const partitioned = createKeys(config.keys);
    const events = Array.from({ length: 30 }, (_, i) => ({
      source: `device-${i % 10}`,
      metric: 'temp',
      value: i,
      occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
      eventId: `event-${i}`,
    }));
    const options = { consumerGroup: config.consumerGroup, maxBacklog: 0, idempotencyWindowMs: 60_000 };
    const appended = await appendToPartitions(client, partitioned, events, options, REPLY_WITH_IDS);
    expect(appended.every(({ duplicate }) => !duplicate)).toBe(true);
    for (const partition of partitioned.partitions) {
      const expected = events.filter(({ source }) => partitioned.partitionFor(source) === partition);
      const entries = await client.xRange(partition.stream, '-', '+');
      expect(entries.map(({ message }) => eventFields(message).eventId)).toEqual(
        expected.map(({ eventId }) => eventId),
      );
    }
    const again = await appendToPartitions(client, partitioned, events.slice(0, 3), options, REPLY_WITH_IDS);
    expect(again).toEqual(appended.slice(0, 3).map(({ id }) => ({ id, duplicate: true })));

    const first = partitioned.partitions[0]!;
    await client.xGroupCreate(first.stream, config.consumerGroup, '0');
    await client.xReadGroup(config.consumerGroup, 'c1', { key: first.stream, id: '>' }, { COUNT: 2 });
    await client.xAdd(first.deadLetter, '*', { n: 'x' });
    const firstTotal = await client.xLen(first.stream);
    expect(await readPartitionQueueStats(client, first, config.consumerGroup)).toEqual({
      total: firstTotal,
      pending: 2,
      dead_lettered: 1,
      lag: firstTotal - 2,
      consumers: 1,
    });
    expect(await readQueueStats(client, partitioned, config.consumerGroup)).toEqual({
      total: 30,
      pending: 2,
      dead_lettered: 1,
      lag: firstTotal - 2,
      consumers: 1,
    });
  });

  it('treats a cluster that is failing over like a lost connection', () => {
    expect(isConnectionError(new ErrorReply('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isConnectionError(new ErrorReply('TRYAGAIN Multiple keys request during rehashing of slot'))).toBe(true);
    expect(isConnectionError(new ErrorReply("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(false);
  });

  it('serves a dead primary’s slots from the promoted replica within seconds, by itself', async () => {
    const key = keys.partitions[0]!.stream;
    await client.xAdd(key, '*', { n: 'before' });
    await client.set(`${key}:value`, 'replicated');
    // Replication is asynchronous: only what the replica acknowledged survives the primary's crash.
    expect(await waitForReplicas(client, key, 1, 2_000)).toBe(1);
    const primary = await cluster.primaryFor(key);

    const { promoted } = await cluster.killPrimaryAndAwaitFailover(primary);
    const promotedAt = Date.now();
    await waitUntil(
      () =>
        client.xAdd(key, '*', { n: 'after' }).then(
          () => true,
          () => false,
        ),
      5_000,
      'a write to the failed-over slot',
    );
    expect(Date.now() - promotedAt).toBeLessThan(5_000);
    expect(await promoted.command('XLEN', key)).toBeGreaterThanOrEqual(2);
    // The promoted replica never had the script.
    expect(await echoFirstKey.run(client, [`${key}:value`], [])).toBe('replicated');
  });
});

describe('a Redis Cluster client started while a primary is dead', () => {
  let cluster: RedisCluster;
  let client: RedisClient | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 });
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await cluster?.stop();
  });

  it('connects once the dead primary’s replica has taken over, and serves its slots', async () => {
    const key = clusterKeys(cluster).partitions[0]!.stream;
    const held = await cluster.killPrimaryHoldingFailover(await cluster.primaryFor(key));
    const started = createRedisClient(
      { clusterNodes: cluster.rootNodes.map(({ url }) => url) },
      { name: 'cluster-test', logger: silent, commandTimeoutMs: 2_000 },
    );
    client = started;
    const connected = started.connect();
    // As long as a failover takes: the slot map names the dead primary all that time.
    await sleep(3_000);
    await held.takeOver();
    await connected;
    await waitUntil(
      () =>
        started.xAdd(key, '*', { n: 'after' }).then(
          () => true,
          () => false,
        ),
      10_000,
      'a write to the failed-over slot',
    );
    expect(await held.replica.command('XLEN', key)).toBe(1);
  }, 60_000);
});
