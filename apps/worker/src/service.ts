import {
  createKeys,
  createRedisClient,
  createRollupStore,
  readQueueStats,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import {
  checkRedisSettings,
  closeServer,
  createLimitedHttpServer,
  listen,
  type Logger,
} from '@redis-ingest/service-kit';
import { ADMIN_HTTP_LIMITS, createAdminApp, groupReadiness } from './admin-server';
import type { WorkerConfig } from './config';
import { createConsumerName } from './consumer-name';
import { WorkerMetrics } from './metrics';
import type { ProcessingContext } from './process-entries';
import { ensureConsumerGroup } from './stream-reads';
import { Worker } from './worker';

export interface RunningWorker {
  readonly consumer: string;
  readonly adminPort: number;
  readonly context: ProcessingContext;
  /** Stops reading, finishes the batch in hand, then closes the admin server and the connections. */
  close(): Promise<void>;
}

/** Creates the consumer group on every partition and the rollup store: what must exist before the first entry is processed. */
export async function prepareProcessing(
  client: RedisClient,
  config: WorkerConfig,
  logger: Logger,
  metrics = new WorkerMetrics(),
): Promise<ProcessingContext> {
  const keys = createKeys(config.keys);
  await Promise.all(keys.partitions.map(({ stream }) => ensureConsumerGroup(client, stream, config.consumerGroup)));
  const store = await createRollupStore(client, config);
  return {
    client,
    store,
    keys,
    group: config.consumerGroup,
    logger,
    maxDeliveries: config.maxDeliveries,
    deadLetterMaxLen: config.deadLetterMaxLen,
    metrics,
  };
}

/**
 * Waits for Redis (the client keeps retrying), prepares the group and the store, then starts the
 * read loop and the admin server. Stopping turns /readyz 503 first, then finishes the batch in hand.
 */
export async function start(config: WorkerConfig, logger: Logger): Promise<RunningWorker> {
  const consumer = config.consumerName ?? createConsumerName();
  const client = createRedisClient(config.redis, { name: `worker:${consumer}`, logger });
  await client.connect();
  try {
    const redisSettings = await checkRedisSettings(client, config, logger);
    const context = await prepareProcessing(client, config, logger);
    context.metrics.service.sampleQueue(() => readQueueStats(client, context.keys, context.group));
    context.metrics.service.evictionRisk(redisSettings);
    if (config.adminToken === undefined) {
      logger.warn(
        { variable: 'WORKER_ADMIN_TOKEN' },
        'no admin token: anyone who reaches the admin port may drain the stream',
      );
    }
    const readiness = groupReadiness(context);
    const app = createAdminApp({ context, consumer, logger, readiness, adminToken: config.adminToken });
    const server = createLimitedHttpServer(app, ADMIN_HTTP_LIMITS);
    const adminPort = await listen(server, config.adminPort);
    const worker = new Worker({ context, consumer, config });
    worker.run().catch((error: unknown) => logger.error({ err: error }, 'worker stopped unexpectedly'));
    logger.info({ consumer, adminPort, backend: context.store.backend }, 'worker service started');

    const shutdown = async () => {
      await readiness.beginStopping(config.stopDelayMs);
      try {
        await worker.close();
      } catch (error) {
        logger.error({ err: error }, 'closing the worker failed');
      }
      try {
        await closeServer(server);
      } catch (error) {
        logger.error({ err: error }, 'closing the admin server failed');
      }
      try {
        await client.close();
      } catch (error) {
        logger.error({ err: error }, 'closing the redis connection failed');
      }
    };
    let closing: Promise<void> | undefined;
    return { consumer, adminPort, context, close: () => (closing ??= shutdown()) };
  } catch (error) {
    client.destroy();
    throw error;
  }
}
