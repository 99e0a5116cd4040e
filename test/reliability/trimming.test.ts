import type { RedisClientType } from '@redis/client';
import { createRedisClient, encodeEvent, type RedisTopology } from '@redis-ingest/redis-schema';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadWorkerConfig, type WorkerConfig } from '../../apps/worker/src/config';
import { processEntries } from '../../apps/worker/src/process-entries';
import { prepareProcessing } from '../../apps/worker/src/service';
import { parseGroupReadReply } from '../../apps/worker/src/stream-reads';
import { Worker } from '../../apps/worker/src/worker';
import { T0, eventually, pipelineEnv, silent, sleep, telemetryEvent } from './support';

const RETAIN_COUNT = 50;
const EARLY = 500;
const STALLED = 30;
const UNDER_LOAD = 3_000;

interface Snapshot {
  readonly existing: Set<string>;
  readonly pending: string[];
  readonly lastDelivered: string;
}

/** Orders stream ids numerically, as Redis does. */
function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split('-').map(BigInt) as [bigint, bigint];
  return aMs === bMs ? Number(aSeq - bSeq) : aMs < bMs ? -1 : 1;
}

describe('stream trimming under load', () => {
  let server: RedisServer;
  let client: RedisClientType & RedisTopology;
  let worker: Worker | undefined;
  let config: WorkerConfig;

  beforeAll(async () => {
    // Small nodes, so that `MINID ~` can trim close to its threshold.
    server = await startRedisServer({ args: ['--stream-node-max-entries', '10'] });
    client = createRedisClient(server.url, { name: 'trim-test', logger: silent });
    await client.connect();
  });
  afterAll(async () => {
    await worker?.close();
    client?.destroy();
    await server?.stop();
  });

  const stream = () => config.keys.streamKey;
  const group = () => config.consumerGroup;
  const xadd = (k: number) => client.xAdd(stream(), '*', encodeEvent(telemetryEvent(`device-${k % 10}`, k, T0 + k)));

  /** Pending list, group position and stream contents as of one instant. */
  async function snapshot(): Promise<Snapshot> {
    const [pending, groups, entries] = (await client
      .multi()
      .addCommand(['XPENDING', stream(), group(), '-', '+', '100000'])
      .addCommand(['XINFO', 'GROUPS', stream()])
      .addCommand(['XRANGE', stream(), '-', '+'])
      .exec()) as unknown as [[string][], string[][], [string][]];
    const info = groups[0]!;
    return {
      pending: pending.map(([id]) => id),
      lastDelivered: info[info.indexOf('last-delivered-id') + 1]!,
      existing: new Set(entries.map(([id]) => id)),
    };
  }

  it('keeps every pending and undelivered entry while removing old processed ones', async () => {
    config = loadWorkerConfig(
      pipelineEnv(server.url, {
        INGEST_RETAIN_PROCESSED_COUNT: String(RETAIN_COUNT),
        INGEST_RETAIN_PROCESSED_MS: '0',
        WORKER_MAINTENANCE_INTERVAL_MS: '20',
        // The stalled consumer's entries must stay with it for the whole test.
        WORKER_RECLAIM_IDLE_MS: '600000',
        WORKER_READ_COUNT: '50',
        INGEST_ROLLUP_BACKEND: 'native',
      }),
    );
    const context = await prepareProcessing(client, config, silent);
    const added: string[] = [];
    for (let k = 0; k < EARLY; k++) added.push(await xadd(k));
    const early = parseGroupReadReply(
      await client.sendCommand([
        'XREADGROUP',
        'GROUP',
        group(),
        'early',
        'COUNT',
        String(EARLY),
        'STREAMS',
        stream(),
        '>',
      ]),
    );
    await processEntries(context, 'early', context.keys.partitions[0]!, early);
    for (let k = EARLY; k < EARLY + STALLED; k++) added.push(await xadd(k));
    // A consumer that read these and stopped: they stay pending, and hold the trim floor.
    await client.sendCommand([
      'XREADGROUP',
      'GROUP',
      group(),
      'stalled',
      'COUNT',
      String(STALLED),
      'STREAMS',
      stream(),
      '>',
    ]);
    const stalled = added.slice(EARLY);

    worker = new Worker({ context, consumer: 'trimmer', config });
    void worker.run();

    let snapshots = 0;
    const check = async () => {
      // Only ids whose XADD had answered before the snapshot was taken.
      const known = [...added];
      const { existing, pending, lastDelivered } = await snapshot();
      snapshots++;
      for (const id of pending) expect(existing.has(id)).toBe(true);
      for (const id of known) if (compareIds(id, lastDelivered) > 0) expect(existing.has(id)).toBe(true);
    };
    /** Adds `count` entries in bursts while checking, between bursts, that nothing unfinished is gone. */
    const loadWhileChecking = async (count: number) => {
      let loading = true;
      const load = (async () => {
        const first = added.length;
        for (let k = first; k < first + count; k += 50) {
          added.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => xadd(k + i)))));
          await sleep(5);
        }
        loading = false;
      })();
      while (loading) {
        await check();
        await sleep(10);
      }
      await load;
      await eventually(async () => (await client.xInfoGroups(stream()))[0]!.lag === 0, 15_000, 'the worker caught up');
      await check();
    };

    await loadWhileChecking(UNDER_LOAD / 2);
    // The early entries are processed and below the floor: all but the retained window go, give or
    // take a node, while the stalled consumer's entries stay.
    await eventually(
      async () => (await snapshot()).existing.size <= added.length - EARLY + RETAIN_COUNT + 10,
      5_000,
      'old processed entries trimmed',
    );
    const afterTrim = await snapshot();
    expect(afterTrim.existing.has(added[0]!)).toBe(false);
    for (const id of [...added.slice(EARLY - RETAIN_COUNT, EARLY), ...stalled])
      expect(afterTrim.existing.has(id)).toBe(true);

    // The stalled consumer finishes: the floor moves up to the worker's own unfinished entries.
    await client.xAck(stream(), group(), stalled);
    await loadWhileChecking(UNDER_LOAD / 2);
    await eventually(
      async () => (await client.xLen(stream())) <= RETAIN_COUNT + 10,
      5_000,
      'trimmed to the retained window',
    );
    const { existing } = await snapshot();
    for (const id of added.slice(-RETAIN_COUNT)) expect(existing.has(id)).toBe(true);
    expect(snapshots).toBeGreaterThan(20);
  });
});
