import { Type } from '@sinclair/typebox';
import type { RequestHandler } from 'express';
import { classifyRedisError } from '@redis-ingest/redis-schema';
import { ErrorBody } from './openapi-schemas';
import type { RouteDescription } from './openapi';

/**
 * Whether this process should be sent traffic: only while its dependencies answer and until it
 * starts stopping. Liveness (/healthz) stays separate, so an orchestrator does not restart a
 * process merely because Redis is down.
 */
export class Readiness {
  private stopping = false;

  /**
   * `check` rejects while a dependency is unusable, e.g. a Redis PING; while `settings` holds a
   * refusal (a Redis found unsafe after start-up) the process is not ready whatever `check` says.
   */
  constructor(
    private readonly check: () => Promise<unknown>,
    private readonly settings?: { readonly refusal: Error | undefined },
  ) {}

  /**
   * Answers 503 from now on, then waits `delayMs` so load balancers see it and route elsewhere
   * before the server stops accepting connections; requests in flight are not affected.
   */
  async beginStopping(delayMs: number): Promise<void> {
    this.stopping = true;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  handler(): RequestHandler {
    return async (_req, res) => {
      if (this.stopping) {
        res.status(503).json({ error: 'Stopping' });
        return;
      }
      const refusal = this.settings?.refusal;
      if (refusal !== undefined) {
        res.status(503).json({ error: `Not ready: ${refusal.message}` });
        return;
      }
      try {
        await this.check();
        res.json({ status: 'ready' });
      } catch (error) {
        // The kind tells an operator what to wait for: a Redis still loading, unreachable, refusing writes.
        const redisError = classifyRedisError(error);
        res.status(503).json({
          error: `Not ready: ${(error as Error).message}`,
          ...(redisError === undefined ? {} : { redisError }),
        });
      }
    };
  }
}

export const readyRoute: RouteDescription = {
  method: 'get',
  path: '/readyz',
  summary:
    'Readiness: 200 while Redis answers PING; 503 while it does not, and from the moment the process starts stopping',
  responses: {
    200: { description: 'Ready for traffic', schema: Type.Object({ status: Type.Literal('ready') }) },
    503: {
      description:
        'Redis does not answer (`redisError` names the kind, e.g. loading, connection), or the process is stopping',
      schema: Type.Composite([ErrorBody, Type.Object({ redisError: Type.Optional(Type.String()) })]),
    },
  },
};
