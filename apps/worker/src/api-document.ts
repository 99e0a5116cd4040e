import { Type } from '@sinclair/typebox';
import {
  ErrorBody,
  buildOpenApiDocument,
  healthRoute,
  metricsRoute,
  ok,
  openApiRoute,
  readyRoute,
  redisDown,
  type OpenApiDocument,
  type RouteDescription,
} from '@redis-ingest/service-kit';
import { DrainRequestSchema } from './drain-request';

const Count = Type.Integer({ minimum: 0 });

/** The admin port's routes, described with the schema that validates the drain request. */
export const workerAdminRoutes: RouteDescription[] = [
  {
    ...healthRoute,
    summary: 'Liveness, with the consumer name; answers without Redis',
    responses: ok('The process is up', Type.Object({ status: Type.Literal('ok'), consumer: Type.String() })),
  },
  {
    ...readyRoute,
    summary:
      'Readiness: 200 while Redis answers and the consumer group exists; 503 otherwise, and from the moment the worker starts stopping',
  },
  metricsRoute,
  openApiRoute,
  {
    method: 'post',
    path: '/api/ingest/workers/process',
    summary:
      'Reads new entries once, without blocking, as the given consumer (default "<daemon>-manual"), and processes ' +
      'them as the daemon would. The body is optional.',
    body: DrainRequestSchema,
    responses: {
      200: {
        description: 'What the read delivered and what became of it.',
        schema: Type.Object({ read: Count, processed: Count, dead_lettered: Count, acked: Count }),
      },
      400: { description: 'Invalid drain request, or a query string; `errors` names each problem.', schema: ErrorBody },
      401: {
        description: 'WORKER_ADMIN_TOKEN is set and `Authorization: Bearer <token>` does not carry it.',
        schema: ErrorBody,
      },
      415: { description: 'A content type other than application/json.', schema: ErrorBody },
      ...redisDown,
    },
  },
];

export function workerAdminDocument(): OpenApiDocument {
  return buildOpenApiDocument(
    {
      title: 'redis-ingest worker admin API',
      version: '0.1.0',
      description: 'Health, and an on-demand drain of the stream.',
    },
    workerAdminRoutes,
  );
}
