import { TypeCompiler } from '@sinclair/typebox/compiler';
import express, { type Express } from 'express';
import { readConsumerGroups } from '@redis-ingest/redis-schema';
import {
  HttpError,
  Readiness,
  RedisFailures,
  jsonBody,
  notFound,
  requestContext,
  requireBearerToken,
  type HttpServerLimits,
  type Logger,
} from '@redis-ingest/service-kit';
import { workerAdminDocument } from './api-document';
import { DrainRequestSchema } from './drain-request';
import { readAndProcess, type ProcessingContext } from './process-entries';

const drainRequestChecker = TypeCompiler.Compile(DrainRequestSchema);
const DEFAULT_DRAIN_COUNT = 100;
const BODY_LIMIT_BYTES = 16 * 1_024;

/** The admin port serves operators and probes, not devices: tight fixed limits suit every deployment. */
export const ADMIN_HTTP_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16_384,
};

export interface AdminDeps {
  readonly context: ProcessingContext;
  /** The daemon's consumer name; the drain reads as "<name>-manual" unless told otherwise. */
  readonly consumer: string;
  readonly logger: Logger;
  /** Opens the drain; undefined leaves it open. */
  readonly adminToken?: string | undefined;
  /** Flipped by whoever stops the worker; by default one that checks Redis and the consumer group. */
  readonly readiness?: Readiness;
}

/** Ready while Redis answers and the consumer group the worker reads exists on every partition. */
export function groupReadiness({ client, keys, group }: ProcessingContext): Readiness {
  return new Readiness(async () => {
    await client.ping();
    await Promise.all(
      keys.partitions.map(async ({ stream }) => {
        const groups = await readConsumerGroups(client, stream);
        if (!groups.some(({ name }) => name === group))
          throw new Error(`consumer group ${group} does not exist yet on ${stream}`);
      }),
    );
  });
}

/** Probes, metrics and the on-demand drain; none of them ever blocks the shared connection. */
export function createAdminApp({
  context,
  consumer,
  logger,
  adminToken,
  readiness = groupReadiness(context),
}: AdminDeps): Express {
  const metrics = context.metrics.service;
  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger), metrics.httpMiddleware());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', consumer });
  });

  app.get('/readyz', readiness.handler());
  app.get('/metrics', metrics.handler());

  const apiDocument = workerAdminDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(apiDocument);
  });

  const authorize = requireBearerToken({ realm: 'worker', accepted: adminToken === undefined ? [] : [adminToken] });
  app.post('/api/ingest/workers/process', authorize, ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    // Settings belong in the body; a query string is a client mistake that must not pass unnoticed.
    if (Object.keys(req.query).length > 0) {
      throw new HttpError(400, 'The drain takes no query parameters; send consumer and count in the JSON body', {
        errors: Object.keys(req.query).map((name) => ({ path: `?${name}`, message: 'Unknown query parameter' })),
      });
    }
    const body: unknown = req.body ?? {};
    if (!drainRequestChecker.Check(body)) {
      const errors = [...drainRequestChecker.Errors(body)].map(({ path, message }) => ({ path, message }));
      throw new HttpError(400, 'Invalid drain request', { errors });
    }
    const outcome = await readAndProcess(context, {
      consumer: body.consumer ?? `${consumer}-manual`,
      count: body.count ?? DEFAULT_DRAIN_COUNT,
    });
    res.json({
      read: outcome.read,
      processed: outcome.processed,
      dead_lettered: outcome.deadLettered,
      acked: outcome.acked,
    });
  });

  app.use(notFound());
  app.use(new RedisFailures(metrics, logger).errorHandler('drain'));
  return app;
}
