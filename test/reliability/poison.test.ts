import {
  createRedisClient,
  encodeEvent,
  parseDeadLetter,
  replayFields,
  splitReplayHistory,
  type RedisClient,
  type RollupStore,
  type Sample,
} from '@redis-ingest/redis-schema';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { loadWorkerConfig, type WorkerConfig } from '../../apps/worker/src/config';
import { MAX_DELIVERIES_REASON, type ProcessingContext } from '../../apps/worker/src/process-entries';
import { prepareProcessing } from '../../apps/worker/src/service';
import { Worker } from '../../apps/worker/src/worker';
import { T0, eventually, pipelineEnv, silent, telemetryEvent } from './support';

const MAX_DELIVERIES = 3;

describe('entries that keep failing', () => {
  let client: RedisClient;
  let config: WorkerConfig;
  let context: ProcessingContext;
  const workers: Worker[] = [];

  beforeAll(async () => {
    client = createRedisClient(testRedisUrl(), { name: 'poison-test', logger: silent });
    await client.connect();
  });
  afterAll(() => client.destroy());
  beforeEach(async () => {
    config = loadWorkerConfig(
      pipelineEnv(testRedisUrl(), {
        INGEST_MAX_DELIVERIES: String(MAX_DELIVERIES),
        // Far above a batch's attempt and its one-by-one retry, so no delivery passes without an attempt.
        WORKER_RECLAIM_IDLE_MS: '400',
        WORKER_RECLAIM_INTERVAL_MS: '50',
        INGEST_ROLLUP_BACKEND: 'native',
      }),
    );
    context = await prepareProcessing(client, config, silent);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
  });

  const run = (processing: ProcessingContext) => {
    const worker = new Worker({ context: processing, consumer: 'poison-worker', config });
    workers.push(worker);
    void worker.run();
    return worker;
  };
  const xadd = (fields: Record<string, string>) => client.xAdd(config.keys.streamKey, '*', fields);
  const deadLetters = async () =>
    (await client.xRange(config.keys.deadLetterKey, '-', '+')).map(({ id, message }) => parseDeadLetter(id, message));
  const drained = async () => {
    const [group] = await client.xInfoGroups(config.keys.streamKey);
    return group!.lag === 0 && group!.pending === 0;
  };

  it('dead-letters an entry the store always refuses after the delivery limit, and stores its batch-mates at once', async () => {
    const poison = { source: 'poison', metric: 'load' };
    // A plain string where the raw series belongs: every write of the series fails with WRONGTYPE.
    await client.set(context.keys.raw(poison), 'not a series');
    let poisonAttempts = 0;
    const countingStore: RollupStore = Object.assign(Object.create(context.store) as RollupStore, {
      addSamples: (samples: readonly Sample[]) => {
        poisonAttempts += samples.some((sample) => sample.source === poison.source) ? 1 : 0;
        return context.store.addSamples(samples);
      },
    });
    const ids = {
      before: await xadd(encodeEvent(telemetryEvent('good-1', 1, T0))),
      poison: await xadd(encodeEvent(telemetryEvent('poison', 2, T0))),
      after: await xadd(encodeEvent(telemetryEvent('good-2', 3, T0))),
    };
    run({ ...context, store: countingStore });

    await eventually(
      async () => (await deadLetters()).length === 1 && (await drained()),
      10_000,
      'the poison entry dead-lettered',
    );

    const [letter] = await deadLetters();
    expect(letter).toMatchObject({ messageId: ids.poison, reason: MAX_DELIVERIES_REASON, consumer: 'poison-worker' });
    expect(letter!.payload).toEqual(encodeEvent(telemetryEvent('poison', 2, T0)));
    // The batch attempt and its one-by-one retry both count as the first delivery's attempts.
    expect(poisonAttempts).toBe(MAX_DELIVERIES + 1);
    const window = { fromMs: T0, toMs: T0, limit: 10 };
    expect(await context.store.range({ source: 'good-1', metric: 'load' }, window)).toEqual([
      { timestampMs: T0, value: 1 },
    ]);
    expect(await context.store.range({ source: 'good-2', metric: 'load' }, window)).toEqual([
      { timestampMs: T0, value: 3 },
    ]);
  });

  it('dead-letters a replayed dead letter that fails again with both failures', async () => {
    const bad = { ...encodeEvent(telemetryEvent('s', 0, T0)), value: 'n/a' };
    const firstId = await xadd(bad);
    run(context);
    await eventually(async () => (await deadLetters()).length === 1, 10_000, 'the first dead letter');
    const [first] = await deadLetters();

    const replayedId = await xadd(replayFields(first!));
    await eventually(
      async () => (await deadLetters()).length === 2 && (await drained()),
      10_000,
      'the second dead letter',
    );

    const second = (await deadLetters())[1]!;
    const { id: _id, payload: _payload, history: _history, ...firstFailure } = first!;
    expect(firstFailure.messageId).toBe(firstId);
    expect(second).toMatchObject({ messageId: replayedId, payload: bad, history: [firstFailure] });
    const { id: _secondId, payload: _secondPayload, history: _secondHistory, ...secondFailure } = second;
    expect(secondFailure.reason).toBe(first!.reason);
    // Replayed once more, the entry carries both failures.
    expect(splitReplayHistory(replayFields(second)).history).toEqual([firstFailure, secondFailure]);
  });
});
