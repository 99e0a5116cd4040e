import { createServer as createHttpServer } from 'node:http';
import express, { type Express } from 'express';
import {
  createKeys,
  createRedisClient,
  encodeEvent,
  isConnectionError,
  validateEvent,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import { HttpError, closeServer, createLogger, errorHandler, jsonBody, listen, notFound, type Logger } from '@redis-ingest/service-kit';
import type { IngestConfig } from './config';

export interface IngestDeps {
  readonly config: IngestConfig;
  readonly redis: RedisClient;
  readonly logger: Logger;
}

const redisUnavailable = (error: unknown) =>
  isConnectionError(error) ? new HttpError(503, 'Redis is unavailable; retry later', {}, { 'Retry-After': '1' }) : undefined;

export function createServer({ config, redis, logger }: IngestDeps): Express {
  const keys = createKeys(config.keys);
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post('/api/ingest/events', ...jsonBody(config.bodyLimitBytes), async (req, res) => {
    if (req.body === undefined) throw new HttpError(400, 'Request body must be a JSON event');
    const result = validateEvent(req.body);
    if (!result.ok) throw new HttpError(400, 'Invalid event', { errors: result.errors });
    const id = await redis.xAdd(keys.stream, '*', encodeEvent(result.event));
    res.status(202).json({ id, value: result.event });
  });

  app.use(notFound());
  app.use(errorHandler(logger, redisUnavailable));
  return app;
}

export interface RunningIngestApi {
  readonly port: number;
  stop(): Promise<void>;
}

/** Connects to Redis in the background (requests answer 503 until it is reachable) and listens. */
export async function start(config: IngestConfig, logger: Logger = createLogger('ingest-api', config.logLevel)): Promise<RunningIngestApi> {
  const redis = createRedisClient(config.redisUrl, { name: 'ingest-api', logger, commandTimeoutMs: config.redisTimeoutMs });
  redis.connect().catch((error: unknown) => logger.warn({ err: error }, 'redis connection failed'));
  const server = createHttpServer(createServer({ config, redis, logger }));
  const port = await listen(server, config.port, config.host);
  logger.info({ port }, 'ingest-api listening');
  return {
    port,
    stop: async () => {
      await closeServer(server);
      redis.destroy();
    },
  };
}
