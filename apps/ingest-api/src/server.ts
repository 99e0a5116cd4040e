import express, { type Express, type Response } from 'express';
import {
  BackpressureError,
  MemoryPressureError,
  PartialAppendError,
  connectWithin,
  createKeys,
  createRedisClient,
  isTransientRedisError,
  readQueueStats,
  validateEvent,
  wroteNothing,
  REPLY_WITHOUT_IDS,
  REPLY_WITH_IDS,
  type AppendReply,
  type Appended,
  type AppendedEvent,
  type RedisClient,
  type TelemetryEvent,
} from '@redis-ingest/redis-schema';
import {
  HttpError,
  Readiness,
  RedisFailures,
  ServiceMetrics,
  closeServer,
  createLimitedHttpServer,
  RedisSettingsWatch,
  createLogger,
  jsonBody,
  listen,
  notFound,
  redisFailureAnswer,
  requestContext,
  requestLogger,
  UNKNOWN_REDIS_SETTINGS,
  type Logger,
  type RedisSettings,
} from '@redis-ingest/service-kit';
import { IngestAccess, type Caller } from './access';
import { NotReplicatedError, PartitionedAppend } from './append';
import { ingestApiDocument } from './api-document';
import type { IngestConfig } from './config';
import { lineProtocolRoutes } from './line-protocol-routes';
import { IngestMetrics, rejectionReason } from './metrics';
import { parseNdjson, validateBatch, type ParsedBatch, type RejectedEvent } from './parse-body';

export interface IngestDeps {
  readonly config: IngestConfig;
  readonly redis: RedisClient;
  readonly logger: Logger;
  /** Flipped by whoever stops the server; by default one that only PINGs Redis. */
  readonly readiness?: Readiness;
  readonly access?: IngestAccess;
  /** What the start-up check found out about Redis' eviction policy. */
  readonly redisSettings?: RedisSettings;
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
    return new HttpError(
      503,
      'The pipeline is behind; retry later',
      { backlog: error.backlog },
      { 'Retry-After': '1' },
    );
  }
  if (error instanceof MemoryPressureError) {
    return new HttpError(
      503,
      'Redis memory is nearly full; retry once the workers have drained the stream',
      { usedMemoryBytes: error.usedBytes, maxMemoryBytes: error.maxBytes, appended: 'none' },
      { 'Retry-After': '5' },
    );
  }
  // A refusal leaves the whole batch out; after a timeout or a lost connection it may be in, and only
  // a retry with the same eventIds settles which.
  return redisFailureAnswer(error, { appended: wroteNothing(error) ? 'none' : 'unknown' });
}

/** Why the events of a failed partition are not (or not surely) in; `unavailable` for any Redis failure a retry can get past. */
function notAppendedReason(error: unknown): 'backpressure' | 'not_replicated' | 'unavailable' | 'failed' {
  if (error instanceof BackpressureError) return 'backpressure';
  if (error instanceof NotReplicatedError) return 'not_replicated';
  return isTransientRedisError(error) ? 'unavailable' : 'failed';
}

/**
 * A batch whose partitions did not all take their events: which events (by index in the request) are
 * in, with their ids, and which to send again. Never 2xx, so a client that reads only the status
 * retries the whole batch, which its eventIds make safe.
 */
function partlyAppended(
  error: PartialAppendError<AppendedEvent>,
  indexes: readonly number[],
  rejected: readonly RejectedEvent[],
): HttpError {
  const reasons = new Map(
    error.failures.flatMap((failure) =>
      failure.positions.map((position) => [position, notAppendedReason(failure.error)]),
    ),
  );
  const appended = error.results.flatMap((result, position) =>
    result ? [{ index: indexes[position]!, id: result.id, duplicate: result.duplicate }] : [],
  );
  const notAppended = [...reasons]
    .map(([position, reason]) => ({ index: indexes[position]!, reason }))
    .sort((a, b) => a.index - b.index);
  return new HttpError(
    503,
    'Only some events were appended; send those under notAppended again (with their eventIds)',
    { appended, notAppended, rejected },
    { 'Retry-After': '1' },
  );
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
    throw new HttpError(400, 'Idempotency-Key and eventId differ', {
      errors: [{ path: '/eventId', message: 'Differs from Idempotency-Key' }],
    });
  }
  return { ...body, eventId: idempotencyKey };
}

export function createServer({
  config,
  redis,
  logger,
  readiness = new Readiness(() => redis.ping()),
  access = new IngestAccess(redis, config),
  redisSettings = UNKNOWN_REDIS_SETTINGS,
}: IngestDeps): Express {
  const keys = createKeys(config.keys);
  const metrics = new ServiceMetrics();
  const failures = new RedisFailures(metrics, logger);
  metrics.evictionRisk(redisSettings);
  const events = new IngestMetrics(metrics);
  metrics.sampleQueue(() => readQueueStats(redis, keys, config.consumerGroup));
  const app = express();
  app.disable('x-powered-by');
  // Answers are small and never cached; hashing each one for an ETag is wasted work on the hot path.
  app.set('etag', false);
  app.use(requestContext(logger), metrics.httpMiddleware());

  const apiDocument = ingestApiDocument(config);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', readiness.handler());
  app.get('/metrics', metrics.handler());

  app.get('/openapi.json', (_req, res) => {
    res.json(apiDocument);
  });

  const partitioned = new PartitionedAppend(redis, config, logger);

  /** Source checks, rate limit, then the append; every event the request carried is counted either way. */
  async function admit<R extends Appended>(
    caller: Caller,
    admitted: readonly TelemetryEvent[],
    reply: AppendReply<R>,
  ): Promise<R[]> {
    try {
      access.authorize(caller, admitted);
      await access.limit(caller, admitted);
      const appended = await partitioned.append(admitted, reply);
      events.accepted.inc(appended.length);
      return appended;
    } catch (error) {
      const appendedCount =
        error instanceof PartialAppendError ? error.results.filter((result) => result !== undefined).length : 0;
      if (appendedCount > 0) events.accepted.inc(appendedCount);
      events.rejected.inc({ reason: rejectionReason(error) }, admitted.length - appendedCount);
      throw error;
    }
  }

  app.post(
    '/api/ingest/events',
    access.authenticate(),
    ...jsonBody(config.bodyLimitBytes, [NDJSON]),
    async (req, res) => {
      const receivedAtMs = Date.now();
      const idempotencyKey = req.get('idempotency-key');
      const caller = access.caller(res);
      if (typeof req.body === 'string') {
        rejectIdempotencyKeyOnBatch(idempotencyKey);
        return sendBatch(res, caller, parseNdjson(req.body, config.maxBatch, receivedAtMs));
      }
      if (Array.isArray(req.body)) {
        rejectIdempotencyKeyOnBatch(idempotencyKey);
        return sendBatch(res, caller, validateBatch(req.body, config.maxBatch, receivedAtMs));
      }
      if (req.body === undefined) throw new HttpError(400, 'Request body must be a JSON event, a JSON array or NDJSON');
      const result = validateEvent(withIdempotencyKey(req.body, idempotencyKey), receivedAtMs);
      if (!result.ok) {
        events.rejected.inc({ reason: 'invalid' });
        throw new HttpError(400, 'Invalid event', { errors: result.errors });
      }
      const [appended] = await admit(caller, [result.event], REPLY_WITH_IDS);
      res.status(appended!.duplicate ? 200 : 202).json({ id: appended!.id, value: result.event });
    },
  );

  async function sendBatch(res: Response, caller: Caller, batch: ParsedBatch): Promise<void> {
    events.rejected.inc({ reason: 'invalid' }, batch.rejected.length);
    let appended: AppendedEvent[];
    try {
      appended = await admit(caller, batch.events, REPLY_WITH_IDS);
    } catch (error) {
      if (!(error instanceof PartialAppendError)) throw error;
      for (const failure of error.failures) reportPartitionFailure(res, failure.error);
      // Appended with REPLY_WITH_IDS, so every result it holds carries its id.
      throw partlyAppended(error as PartialAppendError<AppendedEvent>, batch.indexes, batch.rejected);
    }
    res.status(appended.length > 0 ? 202 : 400).json({
      ...(appended.length === 0 ? { error: 'No event of the batch is valid' } : {}),
      accepted: appended.length,
      ids: appended.map((event) => event.id),
      duplicates: appended.filter((event) => event.duplicate).length,
      rejected: batch.rejected,
    });
  }

  /** A partly appended batch answers 503 itself, so its partitions' failures are counted and logged here. */
  function reportPartitionFailure(res: Response, error: unknown): void {
    const log = requestLogger(res, logger);
    failures.record(error, 'ingest', log);
    if (notAppendedReason(error) === 'failed') log.error({ err: error }, 'append to a stream partition failed');
  }

  const classify = (error: unknown) => {
    failures.record(error, 'ingest');
    return classifyError(error);
  };
  app.use(
    lineProtocolRoutes({
      config,
      access,
      metrics: events,
      admit: (caller, admitted) => admit(caller, admitted, REPLY_WITHOUT_IDS),
      classify,
      reportPartitionFailure,
    }),
  );
  app.use(notFound());
  app.use(failures.errorHandler('ingest', classifyError));
  return app;
}

export interface RunningIngestApi {
  readonly port: number;
  stop(): Promise<void>;
}

/** How long start-up waits for Redis before listening anyway. */
const CONNECT_WAIT_MS = 2_000;

/** Connects to Redis (waiting briefly; requests answer 503 until it is reachable) and listens. */
export async function start(
  config: IngestConfig,
  logger: Logger = createLogger('ingest-api', config.logLevel),
): Promise<RunningIngestApi> {
  const redis = createRedisClient(config.redis, {
    name: 'ingest-api',
    logger,
    commandTimeoutMs: config.redisTimeoutMs,
    maxInFlight: config.maxInFlight,
  });
  if (!(await connectWithin(redis, CONNECT_WAIT_MS))) logger.warn('redis not reachable yet; answering 503 until it is');
  const redisSettings = await RedisSettingsWatch.start(redis, config, logger).catch((error: unknown) => {
    redis.destroy();
    throw error;
  });
  const readiness = new Readiness(() => redis.ping(), redisSettings);
  const access = new IngestAccess(redis, config);
  if (!config.authRequired && !(await access.required().catch(() => false))) {
    logger.warn(
      { variable: 'INGEST_AUTH_REQUIRED' },
      'no device keys: ingest accepts events from anyone until the first key is added (keys-cli add), or INGEST_AUTH_REQUIRED=true',
    );
  }
  const server = createLimitedHttpServer(
    createServer({ config, redis, logger, readiness, access, redisSettings }),
    config.http,
  );
  const port = await listen(server, config.port, config.host);
  logger.info(
    { port, authRequired: config.authRequired, rateLimit: config.rateLimit ?? 'off' },
    'ingest-api listening',
  );
  return {
    port,
    stop: async () => {
      await readiness.beginStopping(config.stopDelayMs);
      await closeServer(server);
      redisSettings.stop();
      redis.destroy();
    },
  };
}
