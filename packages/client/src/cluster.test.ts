import { waitForReplicas, type StreamPartition } from '@redis-ingest/redis-schema';
import { startRedisCluster, waitUntil, type RedisCluster } from '@redis-ingest/test-utils';
import { IngestClient } from './index.ts';
import { eventIdsInStream, occurrences, startIngestApi, type IngestApiUnderTest } from './test-support/ingest-api.ts';

describe('IngestClient on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let under: IngestApiUnderTest;

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 2_000 });
    await Promise.all(
      cluster.nodes.map((node) => node.command('CONFIG', 'SET', 'cluster-require-full-coverage', 'no')),
    );
    under = await startIngestApi(cluster.nodes[0]!.url, {
      REDIS_CLUSTER_NODES: cluster.rootNodes.map(({ url }) => url).join(','),
      INGEST_STREAM_PARTITIONS: '3',
      INGEST_WAIT_REPLICAS: '1',
      INGEST_WAIT_TIMEOUT_MS: '300',
    });
    // A replica counts for WAIT only once it acknowledges its primary's writes.
    const replicated = async ({ stream }: StreamPartition) => {
      await under.redis.set(`${stream}:probe`, 'written');
      return (await waitForReplicas(under.redis, `${stream}:probe`, 1, 100)) === 1;
    };
    await waitUntil(
      async () => (await Promise.all(under.keys.partitions.map(replicated))).every(Boolean),
      20_000,
      'every partition to be replicated',
    );
  }, 90_000);
  afterAll(async () => {
    await under?.stop();
    await cluster?.stop();
  });

  it('resends exactly the events a partial 503 lists as notAppended, and each lands once', async () => {
    const lonely = under.keys.partitions[0]!;
    const [replica] = await cluster.replicasOf(await cluster.primaryFor(lonely.stream));
    const sources = Array.from({ length: 12 }, (_, n) => `device-${n}`);
    const events = sources.map((source, value) => ({ source, metric: 'm', value }));
    expect(new Set(sources.map((source) => under.keys.partitionFor(source).index)).size).toBe(3);
    const inLonely = sources.filter((source) => under.keys.partitionFor(source) === lonely);

    const sent: string[][] = [];
    const client = new IngestClient({
      url: under.url,
      compression: 'none',
      flushIntervalMs: 10,
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      fetch: (input, init) => {
        const lines = new TextDecoder()
          .decode(init!.body as Uint8Array)
          .trim()
          .split('\n');
        sent.push(lines.map((line) => (JSON.parse(line) as { source: string }).source));
        return fetch(input, init);
      },
    });
    const accepted = new Set<string>();
    client.on('accepted', ({ events }) => events.forEach(({ eventId }) => accepted.add(eventId)));
    const partial = new Promise<void>((resolve) => client.on('retry', () => resolve()));

    await replica!.kill();
    try {
      await client.sendMany(events);
      await partial;
    } finally {
      await replica!.restart();
      await cluster.waitUntilHealthy();
    }
    await client.close();

    expect(sent[0]).toEqual(sources);
    expect(sent.length).toBeGreaterThan(1);
    for (const resent of sent.slice(1)) expect(resent).toEqual(inLonely);
    const ids = await eventIdsInStream(under);
    expect(ids).toHaveLength(12);
    expect(occurrences(ids).size).toBe(12);
    expect(new Set(ids)).toEqual(accepted);
  }, 60_000);
});
