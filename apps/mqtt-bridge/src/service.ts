import express from 'express';
import { createKeys, createRedisClient, readQueueStats } from '@redis-ingest/redis-schema';
import {
  Readiness,
  closeServer,
  createLimitedHttpServer,
  errorHandler,
  listen,
  notFound,
  requestContext,
  type Logger,
} from '@redis-ingest/service-kit';
import { MqttBridge } from './bridge';
import type { BridgeConfig } from './config';

export interface RunningBridge {
  readonly port: number;
  readonly bridge: MqttBridge;
  /** Stops taking messages, finishes the one in hand, then closes the probe port and Redis. */
  close(): Promise<void>;
}

/** The probe port serves orchestrators and scrapers only: tight fixed limits suit every deployment. */
const PROBE_HTTP_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16_384,
};

/**
 * Connects to Redis (the client keeps retrying) and to the broker, subscribes, and serves /healthz,
 * /readyz (ready while the broker is connected, Redis answers and no message is held back) and /metrics.
 */
export async function start(config: BridgeConfig, logger: Logger): Promise<RunningBridge> {
  const redis = createRedisClient(config.redis, {
    name: `mqtt-bridge:${config.clientId}`,
    logger,
    commandTimeoutMs: config.redisTimeoutMs,
  });
  await redis.connect();
  const bridge = new MqttBridge({ config, redis, logger });
  const metrics = bridge.metrics.service;
  metrics.sampleQueue(() => readQueueStats(redis, createKeys(config.keys), config.consumerGroup));
  const readiness = new Readiness(async () => {
    if (!bridge.connected) throw new Error('the mqtt broker is not connected');
    if (!bridge.flowing) throw new Error('holding messages: the pipeline is behind or redis is unavailable');
    await redis.ping();
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger), metrics.httpMiddleware());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', clientId: config.clientId });
  });
  app.get('/readyz', readiness.handler());
  app.get('/metrics', metrics.handler());
  app.use(notFound());
  app.use(errorHandler(logger));
  const server = createLimitedHttpServer(app, PROBE_HTTP_LIMITS);
  try {
    await bridge.start();
  } catch (error) {
    redis.destroy();
    throw error;
  }
  const port = await listen(server, config.port);
  logger.info({ port, clientId: config.clientId, url: config.mqttUrl }, 'mqtt bridge started');

  const shutdown = async () => {
    await readiness.beginStopping(0);
    for (const [what, step] of [
      ['the mqtt bridge', () => bridge.stop()],
      ['the probe server', () => closeServer(server)],
      ['the redis connection', () => redis.close()],
    ] as const) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, `closing ${what} failed`);
      }
    }
  };
  let closing: Promise<void> | undefined;
  return { port, bridge, close: () => (closing ??= shutdown()) };
}
