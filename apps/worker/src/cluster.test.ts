import {
  createKeys,
  createRedisClient,
  encodeEvent,
  readPartitionQueueStats,
  type Keys,
  type RedisClient,
  type SeriesId,
  type StreamPartition,
} from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import {
  isolatedEnv,
  startRedisCluster,
  waitUntil,
  type ClusterNode,
  type RedisCluster,
} from '@redis-ingest/test-utils';
import { loadWorkerConfig, type WorkerConfig } from './config';
import type { ProcessingContext } from './process-entries';
import { prepareProcessing } from './service';
import { Worker } from './worker';

const logger = createLogger('worker-cluster-test', 'silent');
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const PARTITIONS = 3;
const STREAM_NODE_MAX_ENTRIES = 10;

/**
 * One three-primary cluster, a replica per primary, for the whole file. Each test takes fresh key
 * names, whose three partitions' slots lie on the three primaries.
 */
describe('worker on a Redis Cluster with three stream partitions', () => {
  let cluster: RedisCluster;
  let redis: RedisClient;
  const clients: RedisClient[] = [];
  const workers: Worker[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 });
    for (const node of cluster.nodes) {
      // With the default (yes) every node refuses every slot while one primary is down, so no
      // partition could be served during a failover; the worker's part is to keep the others going.
      await node.command('CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
      // Small stream nodes, so that `MINID ~` can trim close to its threshold.
      await node.command('CONFIG', 'SET', 'stream-node-max-entries', String(STREAM_NODE_MAX_ENTRIES));
    }
    redis = createRedisClient(
      { clusterNodes: cluster.rootNodes.map(({ url }) => url) },
      { name: 'cluster-test', logger, commandTimeoutMs: 2_000 },
    );
    await redis.connect();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
    for (const client of clients.splice(0)) if (client.isOpen) client.destroy();
  });
  afterAll(async () => {
    redis?.destroy();
    await cluster?.stop();
  });

  function workerConfig(overrides: Record<string, string> = {}): WorkerConfig {
    return loadWorkerConfig(
      isolatedEnv(cluster.nodes[0]!.url, {
        REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(','),
        INGEST_STREAM_PARTITIONS: String(PARTITIONS),
        INGEST_ROLLUP_BACKEND: 'native',
        WORKER_BLOCK_MS: '200',
        ...overrides,
      }),
    );
  }

  /** A worker with connections of its own, as a separate process would have. */
  async function startWorker(
    config: WorkerConfig,
    consumer: string,
  ): Promise<{ worker: Worker; context: ProcessingContext }> {
    const client = createRedisClient(config.redis, { name: `worker:${consumer}`, logger });
    clients.push(client);
    await client.connect();
    const context = await prepareProcessing(client, config, logger);
    const worker = new Worker({ context, consumer, config });
    workers.push(worker);
    void worker.run();
    return { worker, context };
  }

  const reading = (series: SeriesId, k: number) =>
    encodeEvent({ ...series, value: k, occurredAt: new Date(T0 + k * 1_000).toISOString() });
  const invalid = { source: 'bad', metric: 'load', value: 'n/a', occurredAt: new Date(T0).toISOString() };
  const xadd = (partition: StreamPartition, fields: Record<string, string>) =>
    redis.xAdd(partition.stream, '*', fields);

  /** `perPartition` series of each partition, as the ingest API places them: by their source. */
  function seriesByPartition(
    keys: Keys,
    perPartition: number,
    accept: (series: SeriesId) => boolean = () => true,
  ): SeriesId[][] {
    const chosen: SeriesId[][] = keys.partitions.map(() => []);
    for (let i = 0; chosen.some((list) => list.length < perPartition); i++) {
      const series = { source: `device-${i}`, metric: 'load' };
      const list = chosen[keys.partitionFor(series.source).index]!;
      if (list.length < perPartition && accept(series)) list.push(series);
    }
    return chosen;
  }

  /**
   * Every entry of the partitions delivered and acked; false while a partition cannot be asked
   * (failing over). After a failover Redis may not know a group's lag, which the stats then count.
   */
  const finished = (partitions: readonly StreamPartition[], group: string) =>
    Promise.all(partitions.map((partition) => readPartitionQueueStats(redis, partition, group))).then(
      (stats) => stats.every(({ lag, pending }) => lag === 0 && pending === 0),
      () => false,
    );

  const stored = (context: ProcessingContext, series: SeriesId) =>
    context.store.range(series, { fromMs: T0, toMs: T0 + 1_000_000, limit: 10_000 });

  async function expectStored(context: ProcessingContext, series: SeriesId, steps: readonly number[]): Promise<void> {
    expect(await stored(context, series)).toEqual(
      [...steps].sort((a, b) => a - b).map((k) => ({ timestampMs: T0 + k * 1_000, value: k })),
    );
  }

  const range = (count: number, from = 0) => Array.from({ length: count }, (_, k) => from + k);

  it('spreads the partitions over the three primaries', async () => {
    const keys = createKeys(workerConfig().keys);
    const owners = await Promise.all(keys.partitions.map(({ stream }) => cluster.primaryFor(stream)));
    expect(new Set(owners.map(({ port }) => port)).size).toBe(PARTITIONS);
  });

  it('shares every partition between two workers: each entry processed once, invalid ones dead-lettered in their partition', async () => {
    const config = workerConfig({ WORKER_READ_COUNT: '25' });
    const pair = await Promise.all([startWorker(config, 'one'), startWorker(config, 'two')]);
    const { keys, group } = pair[0]!.context;
    const series = seriesByPartition(keys, 4);
    const perSeries = 50;
    const invalidIds: string[][] = keys.partitions.map(() => []);
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < perSeries; k++) {
      for (const partition of keys.partitions) {
        for (const one of series[partition.index]!) writes.push(xadd(partition, reading(one, k)));
        if (k % 10 === 0) writes.push(xadd(partition, invalid).then((id) => invalidIds[partition.index]!.push(id)));
      }
    }
    await Promise.all(writes);

    await waitUntil(() => finished(keys.partitions, group), 20_000, 'every partition drained');
    await Promise.all(pair.map(({ worker }) => worker.close()));

    const valid = PARTITIONS * 4 * perSeries;
    const deadLettered = PARTITIONS * (perSeries / 10);
    const totals = pair.map(({ worker }) => worker.totals);
    expect(totals.every(({ read }) => read > 0)).toBe(true);
    const sum = (field: 'read' | 'processed' | 'deadLettered' | 'acked') =>
      totals.reduce((total, one) => total + one[field], 0);
    expect([sum('read'), sum('processed'), sum('deadLettered'), sum('acked')]).toEqual([
      valid + deadLettered,
      valid,
      deadLettered,
      valid + deadLettered,
    ]);
    for (const one of series.flat()) await expectStored(pair[0]!.context, one, range(perSeries));
    for (const partition of keys.partitions) {
      const letters = await redis.xRange(partition.deadLetter, '-', '+');
      expect(letters.map(({ message }) => message.messageId).sort()).toEqual([...invalidIds[partition.index]!].sort());
      expect(await readPartitionQueueStats(redis, partition, group)).toMatchObject({ lag: 0, pending: 0 });
    }
  });

  it('reclaims the entries a consumer read from one partition and never acked', async () => {
    // An idle time the heir's own batches never reach, so each abandoned entry is reclaimed once.
    const config = workerConfig({ WORKER_RECLAIM_IDLE_MS: '60000', WORKER_RECLAIM_INTERVAL_MS: '100' });
    const keys = createKeys(config.keys);
    const partition = keys.partitions[1]!;
    const [series] = seriesByPartition(keys, 1)[1]!;
    await redis.sendCommand(['XGROUP', 'CREATE', partition.stream, config.consumerGroup, '0', 'MKSTREAM']);
    const ids: string[] = [];
    for (const k of range(10)) ids.push(await xadd(partition, reading(series!, k)));
    // A consumer that read them and died an hour ago.
    await redis.sendCommand([
      'XREADGROUP',
      'GROUP',
      config.consumerGroup,
      'gone',
      'COUNT',
      '10',
      'STREAMS',
      partition.stream,
      '>',
    ]);
    await redis.sendCommand(['XCLAIM', partition.stream, config.consumerGroup, 'gone', '0', ...ids, 'IDLE', '3600000']);

    const { worker, context } = await startWorker(config, 'heir');
    await waitUntil(() => finished([partition], config.consumerGroup), 10_000, 'the abandoned entries reclaimed');

    expect(worker.totals.reclaimed).toBe(10);
    await expectStored(context, series!, range(10));
  });

  it('trims every partition to the retained window of processed entries', async () => {
    const retained = 10;
    const config = workerConfig({
      INGEST_RETAIN_PROCESSED_COUNT: String(retained),
      INGEST_RETAIN_PROCESSED_MS: '0',
      WORKER_MAINTENANCE_INTERVAL_MS: '50',
    });
    const { context } = await startWorker(config, 'trimmer');
    const { keys, group } = context;
    const series = seriesByPartition(keys, 1);
    const added = await Promise.all(
      keys.partitions.map((partition) =>
        Promise.all(range(100).map((k) => xadd(partition, reading(series[partition.index]![0]!, k)))),
      ),
    );
    await waitUntil(() => finished(keys.partitions, group), 10_000, 'every partition drained');

    for (const partition of keys.partitions) {
      await waitUntil(
        async () => (await redis.xLen(partition.stream)) <= retained + STREAM_NODE_MAX_ENTRIES,
        5_000,
        `partition ${partition.index} trimmed`,
      );
      const left = new Set((await redis.xRange(partition.stream, '-', '+')).map(({ id }) => id));
      for (const id of added[partition.index]!.slice(-retained)) expect(left.has(id)).toBe(true);
    }
  });

  it('keeps processing the other partitions while one partition’s primary fails over, then resumes that one by itself', async () => {
    const config = workerConfig({ WORKER_READ_COUNT: '20' });
    const keys = createKeys(config.keys);
    const owners = await Promise.all(keys.partitions.map(({ stream }) => cluster.primaryFor(stream)));
    // The series index must stay writable: the failed partition is one whose primary does not hold it.
    const indexOwners = await Promise.all(
      [keys.seriesIndex, keys.seriesIndexBySource].map((key) => cluster.primaryFor(key)),
    );
    const victim = keys.partitions.find(({ index }) => !indexOwners.some(({ port }) => port === owners[index]!.port))!;
    const victimNode: ClusterNode = owners[victim.index]!;
    const others = keys.partitions.filter((partition) => partition !== victim);
    // Samples of the other partitions' series must be writable too: their keys are elsewhere.
    const rawOwners = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const key = keys.raw({ source: `device-${i}`, metric: 'load' });
      rawOwners.set(key, (await cluster.primaryFor(key)).port);
    }
    const series = seriesByPartition(keys, 2, (one) => rawOwners.get(keys.raw(one)) !== victimNode.port);
    const steps = new Map<SeriesId, number[]>(series.flat().map((one) => [one, []]));
    const addWave = async (partitions: readonly StreamPartition[], from: number, count: number) => {
      for (const partition of partitions) {
        const written = series[partition.index]!.flatMap((one) =>
          range(count, from).map((k) => xadd(partition, reading(one, k)).then(() => k)),
        );
        const ks = await Promise.all(written);
        series[partition.index]!.forEach((one, i) => steps.get(one)!.push(...ks.slice(i * count, (i + 1) * count)));
      }
    };

    const { context } = await startWorker(config, 'survivor');
    await addWave(keys.partitions, 0, 50);
    await waitUntil(() => finished(keys.partitions, config.consumerGroup), 10_000, 'the first wave processed');

    // A backlog on the failing partition, added at once (MULTI) and followed on the same connection by a
    // pause of the primary's writes: the worker gets at most a batch or two of it before the kill, so the
    // kill interrupts it however fast the worker runs. Paused, the primary takes no more reads or acks,
    // and once its replica has applied all it sent, the failover keeps the backlog and the group's state.
    const victimSeries = series[victim.index]!;
    const backlog = victimSeries.flatMap((one) => range(500, 50).map((k) => ({ one, k })));
    await victimNode.pipeline(
      ['MULTI'],
      ...backlog.map(({ one, k }) => ['XADD', victim.stream, '*', ...Object.entries(reading(one, k)).flat()]),
      ['EXEC'],
      ['CLIENT', 'PAUSE', '30000', 'WRITE'],
    );
    for (const { one, k } of backlog) steps.get(one)!.push(k);
    await cluster.awaitReplicasInSync(victimNode);
    const killedAt = Date.now();
    const failover = await cluster.killPrimaryHoldingFailover(victimNode);
    const storedAtKill = (await Promise.all(victimSeries.map((one) => stored(context, one)))).reduce(
      (sum, points) => sum + points.length,
      0,
    );
    const addedToVictim = victimSeries.reduce((sum, one) => sum + steps.get(one)!.length, 0);
    // The kill must interrupt the partition's backlog, else there is nothing to resume.
    expect(storedAtKill).toBeLessThan(addedToVictim);

    await addWave(others, 550, 50);
    await waitUntil(
      () => finished(others, config.consumerGroup),
      10_000,
      'the other partitions processed during the failover',
    );
    const othersDoneMs = Date.now() - killedAt;
    // The failed partition still has no primary: the others were processed without it.
    await expect(redis.xLen(victim.stream)).rejects.toThrow();
    const { elapsedMs } = await failover.takeOver();
    // This client learns of the promotion from its first failed command to the slot, as the worker's do.
    await waitUntil(
      () =>
        redis.xLen(victim.stream).then(
          () => true,
          () => false,
        ),
      5_000,
      'the failed-over partition reachable',
    );

    await addWave(keys.partitions, 600, 20);
    await waitUntil(
      () => finished(keys.partitions, config.consumerGroup),
      20_000,
      'every partition processed after the failover',
    );
    for (const [one, ks] of steps) await expectStored(context, one, ks);
    console.log(
      `failover: ${storedAtKill} of ${addedToVictim} entries of the failed partition stored at the kill; other partitions done ${othersDoneMs} ms after the kill, replica promoted after ${elapsedMs} ms`,
    );
  }, 45_000);
});
