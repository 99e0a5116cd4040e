import { createServer as createHttpServer } from 'node:http';
import express, { type Express, type Response } from 'express';
import {
  BackpressureError,
  appendEvents,
  connectWithin,
  createKeys,
  createRedisClient,
  isConnectionError,
  validateEvent,
  type AppendedEvent,
  type RedisClient,
  type TelemetryEvent,
} from '@redis-ingest/redis-schema';
import { HttpError, closeServer, createLogger, errorHandler, jsonBody, listen, notFound, type Logger } from '@redis-ingest/service-kit';
import { ingestApiDocument } from './api-document';
import type { IngestConfig } from './config';
import { parseNdjson, validateBatch, type ParsedBatch } from './parse-body';

export interface IngestDeps {
  readonly config: IngestConfig;
  readonly redis: RedisClient;
  readonly logger: Logger;
}

const NDJSON = 'application/x-ndjson';

function classifyError(error: unknown): HttpError | undefined {
  if (error instanceof NotReplicatedError) {
    return new HttpError(
      503,
      'The events are not yet on enough replicas; retry with the same eventId',
      { replicas: error.replicas },
      { 'Retry-After': '1' },
    );
  }
  if (error instanceof BackpressureError) {
    return new HttpError(503, 'The pipeline is behind; retry later', { backlog: error.backlog }, { 'Retry-After': '1' });
  }
  if (isConnectionError(error)) return new HttpError(503, 'Redis is unavailable; retry later', {}, { 'Retry-After': '1' });
  return undefined;
}

/** The entries are on the primary but not yet on enough replicas: a failover now could lose them. */
class NotReplicatedError extends Error {
  constructor(readonly replicas: number) {
    super(`only ${replicas} replicas acknowledged the write in time`);
  }
}

function rejectIdempotencyKeyOnBatch(idempotencyKey: string | undefined): void {
  if (idempotencyKey !== undefined) {
    throw new HttpError(400, 'Idempotency-Key applies to single events; give each event of a batch its own eventId');
  }
}

/** The Idempotency-Key header is another way to send the event id; the two must not disagree. */
function withIdempotencyKey(body: unknown, idempotencyKey: string | undefined): unknown {
  if (idempotencyKey === undefined || typeof body !== 'object' || body === null) return body;
  const eventId = (body as { eventId?: unknown }).eventId;
  if (eventId !== undefined && eventId !== idempotencyKey) {
    throw new HttpError(400, 'Idempotency-Key and eventId differ', { errors: [{ path: '/eventId', message: 'Differs from Idempotency-Key' }] });
  }
  return { ...body, eventId: idempotencyKey };
}

export function createServer({ config, redis, logger }: IngestDeps): Express {
  const keys = createKeys(config.keys);
  const app = express();
  app.disable('x-powered-by');
  // Answers are small and never cached; hashing each one for an ETag is wasted work on the hot path.
  app.set('etag', false);

  const apiDocument = ingestApiDocument(config);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/openapi.json', (_req, res) => {
    res.json(apiDocument);
  });

  const appendOptions = {
    consumerGroup: config.consumerGroup,
    maxBacklog: config.maxBacklog,
    idempotencyWindowMs: config.idempotencyWindowMs,
  };

  async function append(events: readonly TelemetryEvent[]): Promise<AppendedEvent[]> {
    const appended = await appendEvents(redis, keys, events, appendOptions);
    if (config.waitReplicas > 0 && appended.length > 0) {
      // WAIT covers every write this connection sent before it, so concurrent requests share one wait.
      const replicas = Number(await redis.sendCommand(['WAIT', String(config.waitReplicas), String(config.waitTimeoutMs)]));
      if (replicas < config.waitReplicas) throw new NotReplicatedError(replicas);
    }
    return appended;
  }

  app.post('/api/ingest/events', ...jsonBody(config.bodyLimitBytes, [NDJSON]), async (req, res) => {
    const receivedAtMs = Date.now();
    const idempotencyKey = req.get('idempotency-key');
    if (typeof req.body === 'string') {
      rejectIdempotencyKeyOnBatch(idempotencyKey);
      return sendBatch(res, parseNdjson(req.body, config.maxBatch, receivedAtMs));
    }
    if (Array.isArray(req.body)) {
      rejectIdempotencyKeyOnBatch(idempotencyKey);
      return sendBatch(res, validateBatch(req.body, config.maxBatch, receivedAtMs));
    }
    if (req.body === undefined) throw new HttpError(400, 'Request body must be a JSON event, a JSON array or NDJSON');
    const result = validateEvent(withIdempotencyKey(req.body, idempotencyKey), receivedAtMs);
    if (!result.ok) throw new HttpError(400, 'Invalid event', { errors: result.errors });
    const [appended] = await append([result.event]);
    res.status(appended!.duplicate ? 200 : 202).json({ id: appended!.id, value: result.event });
  });

  async function sendBatch(res: Response, batch: ParsedBatch): Promise<void> {
    const appended = await append(batch.events);
    res.status(appended.length > 0 ? 202 : 400).json({
      accepted: appended.length,
      ids: appended.map((event) => event.id),
      duplicates: appended.filter((event) => event.duplicate).length,
      rejected: batch.rejected,
    });
  }

  app.use(notFound());
  app.use(errorHandler(logger, classifyError));
  return app;
}

export interface RunningIngestApi {
  readonly port: number;
  stop(): Promise<void>;
}

/** How long start-up waits for Redis before listening anyway. */
const CONNECT_WAIT_MS = 2_000;

/** Connects to Redis (waiting briefly; requests answer 503 until it is reachable) and listens. */
export async function start(config: IngestConfig, logger: Logger = createLogger('ingest-api', config.logLevel)): Promise<RunningIngestApi> {
  const redis = createRedisClient(config.redisUrl, { name: 'ingest-api', logger, commandTimeoutMs: config.redisTimeoutMs });
  if (!(await connectWithin(redis, CONNECT_WAIT_MS))) logger.warn('redis not reachable yet; answering 503 until it is');
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
