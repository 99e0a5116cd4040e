import { TypeCompiler } from '@sinclair/typebox/compiler';
import express, { type Express } from 'express';
import { isConnectionError } from '@redis-ingest/redis-schema';
import { HttpError, errorHandler, jsonBody, notFound, type Logger } from '@redis-ingest/service-kit';
import { workerAdminDocument } from './api-document';
import { DrainRequestSchema } from './drain-request';
import { readAndProcess, type ProcessingContext } from './process-entries';

const drainRequestChecker = TypeCompiler.Compile(DrainRequestSchema);
const DEFAULT_DRAIN_COUNT = 100;
const BODY_LIMIT_BYTES = 16 * 1_024;

export interface AdminDeps {
  readonly context: ProcessingContext;
  /** The daemon's consumer name; the drain reads as "<name>-manual" unless told otherwise. */
  readonly consumer: string;
  readonly logger: Logger;
}

const redisUnavailable = (error: unknown) =>
  isConnectionError(error) ? new HttpError(503, 'Redis is unavailable; retry later', {}, { 'Retry-After': '1' }) : undefined;

/** Health check and the on-demand drain; neither ever blocks the shared connection. */
export function createAdminApp({ context, consumer, logger }: AdminDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', async (_req, res) => {
    await context.client.ping();
    res.json({ status: 'ok', consumer });
  });

  const apiDocument = workerAdminDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(apiDocument);
  });

  app.post('/api/ingest/workers/process', ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    const body: unknown = req.body ?? {};
    if (!drainRequestChecker.Check(body)) {
      const errors = [...drainRequestChecker.Errors(body)].map(({ path, message }) => ({ path, message }));
      throw new HttpError(400, 'Invalid drain request', { errors });
    }
    const outcome = await readAndProcess(context, {
      consumer: body.consumer ?? `${consumer}-manual`,
      count: body.count ?? DEFAULT_DRAIN_COUNT,
    });
    res.json({ read: outcome.read, processed: outcome.processed, dead_lettered: outcome.deadLettered, acked: outcome.acked });
  });

  app.use(notFound());
  app.use(errorHandler(logger, redisUnavailable));
  return app;
}
