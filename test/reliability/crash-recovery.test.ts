import {
  createRedisClient,
  createRollupStore,
  loadPipelineConfig,
  type RedisClient,
  type RollupStore,
} from '@redis-ingest/redis-schema';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import type { RunningIngestApi } from '../../apps/ingest-api/src/server';
import {
  T0,
  eventually,
  killHard,
  pipelineEnv,
  postEvents,
  requireWorkerBuild,
  silent,
  sleep,
  spawnWorker,
  startIngestApi,
  telemetryEvent,
  type WorkerProcess,
} from './support';

const SERIES = 20;
const EVENTS_PER_SERIES = 200;
const BATCH = 40;
const INVALID_EVERY_BATCHES = 2;
const WORKERS = 3;

/**
 * Workers are SIGKILLed at random moments while events stream in. Half the kills first freeze the
 * worker (SIGSTOP) until Redis has delivered it entries, so some kills always leave entries pending
 * that only the reclaim loop of another worker can finish.
 */
describe('workers killed with SIGKILL during ingest', () => {
  let server: RedisServer;
  let ingest: RunningIngestApi | undefined;
  const workers: WorkerProcess[] = [];
  let client: RedisClient;
  let store: RollupStore;
  let env: Record<string, string>;

  beforeAll(async () => {
    requireWorkerBuild();
    server = await startRedisServer();
    env = pipelineEnv(server.url, {
      INGEST_MAX_BACKLOG: '0',
      WORKER_READ_COUNT: '20',
      WORKER_RECLAIM_IDLE_MS: '1000',
      WORKER_RECLAIM_INTERVAL_MS: '200',
      WORKER_MAINTENANCE_INTERVAL_MS: '500',
      INGEST_ROLLUP_BACKEND: 'native',
    });
    client = createRedisClient(server.url, { name: 'crash-test', logger: silent });
    await client.connect();
    store = await createRollupStore(client, loadPipelineConfig(env));
    ingest = await startIngestApi(env);
  });

  afterAll(async () => {
    await Promise.all(workers.map(killHard));
    await ingest?.stop();
    client?.destroy();
    await server?.stop();
  });

  let spawned = 0;
  const startWorker = () => {
    const worker = spawnWorker(env, `crash-worker-${++spawned}`);
    workers.push(worker);
    return worker;
  };
  const alive = () => workers.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  const pendingOf = async (consumer: string) =>
    (
      (await client.sendCommand([
        'XPENDING',
        env.INGEST_STREAM_KEY!,
        env.INGEST_CONSUMER_GROUP!,
        '-',
        '+',
        '1',
        consumer,
      ])) as unknown[]
    ).length;

  it('stores every accepted event exactly once and dead-letters every invalid entry exactly once', async () => {
    for (let i = 0; i < WORKERS; i++) startWorker();
    await Promise.all(workers.map(({ started }) => started));

    const events = [];
    for (let k = 0; k < EVENTS_PER_SERIES; k++) {
      for (let i = 0; i < SERIES; i++) events.push(telemetryEvent(`device-${i}`, i * 1_000 + k, T0 + k * 1_000));
    }
    let accepted = 0;
    const invalidIds: string[] = [];
    let ingesting = true;

    const killer = (async () => {
      let kills = 0;
      while (ingesting) {
        await sleep(100 + Math.random() * 300);
        const candidates = alive();
        const victim = candidates[Math.floor(Math.random() * candidates.length)];
        if (!victim) continue;
        if (kills % 2 === 1) {
          victim.child.kill('SIGSTOP');
          const deadline = Date.now() + 1_000;
          while (ingesting && Date.now() < deadline && (await pendingOf(victim.consumer)) === 0) await sleep(20);
        }
        await killHard(victim);
        kills++;
        startWorker();
      }
      return kills;
    })();

    for (let start = 0, batch = 0; start < events.length; start += BATCH, batch++) {
      const result = await postEvents(ingest!.port, events.slice(start, start + BATCH));
      expect(result.status).toBe(202);
      accepted += result.body.accepted!;
      if (batch % INVALID_EVERY_BATCHES === 0) {
        invalidIds.push(
          await client.xAdd(env.INGEST_STREAM_KEY!, '*', {
            source: 'bad',
            metric: 'load',
            value: 'n/a',
            occurredAt: new Date(T0).toISOString(),
          }),
        );
      }
      await sleep(40);
    }
    ingesting = false;
    const kills = await killer;

    await eventually(
      async () => {
        const [group] = await client.xInfoGroups(env.INGEST_STREAM_KEY!);
        return group!.lag === 0 && group!.pending === 0;
      },
      30_000,
      'the group drained',
    );

    expect(accepted).toBe(events.length);
    for (let i = 0; i < SERIES; i++) {
      const points = await store.range(
        { source: `device-${i}`, metric: 'load' },
        { fromMs: T0, toMs: T0 + EVENTS_PER_SERIES * 1_000, limit: 1_000 },
      );
      expect(points).toEqual(
        Array.from({ length: EVENTS_PER_SERIES }, (_, k) => ({ timestampMs: T0 + k * 1_000, value: i * 1_000 + k })),
      );
    }
    const deadLetters = await client.xRange(env.INGEST_DEAD_LETTER_KEY!, '-', '+');
    expect(deadLetters.map(({ message }) => message.messageId).sort()).toEqual([...invalidIds].sort());
    expect(
      Number(
        ((await client.sendCommand(['XPENDING', env.INGEST_STREAM_KEY!, env.INGEST_CONSUMER_GROUP!])) as unknown[])[0],
      ),
    ).toBe(0);

    const reclaimed = workers
      .flatMap(({ logs }) => logs)
      .filter(({ msg }) => msg === 'reclaimed idle entries')
      .reduce((sum, line) => sum + (line.reclaimed as number), 0);
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(reclaimed).toBeGreaterThan(0);
    console.log(
      `SIGKILL run: ${events.length + invalidIds.length} events sent (${events.length} valid over HTTP, ${invalidIds.length} invalid ` +
        `XADDed), ${accepted} accepted, ${kills} workers killed, ${reclaimed} entries claimed by reclaim, ` +
        `${deadLetters.length} dead-lettered`,
    );
  }, 90_000);
});
