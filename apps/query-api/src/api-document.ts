import { Type } from '@sinclair/typebox';
import { AGGREGATIONS, SOURCE_REDUCERS } from '@redis-ingest/redis-schema';
import {
  ErrorBody,
  Nullable,
  badRequest,
  buildOpenApiDocument,
  healthRoute,
  metricsRoute,
  ok,
  openApiRoute,
  readyRoute,
  redisDown,
  type RouteResponse,
  type OpenApiDocument,
  type RouteDescription,
} from '@redis-ingest/service-kit';
import type { QueryConfig } from './config';
import { dashboardApiRoutes } from './dashboard';
import { DEAD_LETTERS_PATH } from './dead-letters';
import {
  deadLetterQuerySchema,
  deadLetterSelectionSchema,
  metricParamsSchema,
  metricRangeQuerySchema,
  rangeQuerySchema,
  recentQuerySchema,
  seriesPageQuerySchema,
  seriesParamsSchema,
} from './query-params';

const Point = Type.Object({ timestampMs: Type.Integer(), value: Type.Number() });
const Cursor = Nullable(Type.String({ description: 'Pass as `cursor` for the next page; null on the last page.' }));
const Aggregation = Type.Union(AGGREGATIONS.map((type) => Type.Literal(type)));

const Failure = {
  messageId: Type.String(),
  reason: Type.String(),
  failedAt: Type.String(),
  consumer: Type.String(),
  topic: Type.Optional(Type.String({ description: 'The MQTT topic of a payload the MQTT bridge refused.' })),
};
const DeadLetter = Type.Object({
  id: Type.String({
    description:
      'The dead-letter stream id; `<partition>:<stream id>` when the stream has several partitions (INGEST_STREAM_PARTITIONS).',
  }),
  ...Failure,
  payload: Type.Record(Type.String(), Type.String(), { description: 'The original stream fields.' }),
  history: Type.Array(Type.Object(Failure), { description: 'Earlier failures of the same event, oldest first.' }),
});
const Missing = Type.Array(Type.String(), { description: 'Requested ids that are not in the dead-letter stream.' });
const QueueFigures = {
  total: Type.Integer(),
  pending: Type.Integer(),
  dead_lettered: Type.Integer(),
  lag: Nullable(Type.Integer()),
  consumers: Type.Integer(),
};

const unauthorized: Record<number, RouteResponse> = {
  401: {
    description: 'QUERY_READ_TOKEN is set and `Authorization: Bearer <token>` does not carry it or the admin token.',
    schema: ErrorBody,
  },
};
const forbidden: Record<number, RouteResponse> = {
  401: { description: 'No token, or an unknown one; QUERY_ADMIN_TOKEN is needed.', schema: ErrorBody },
  403: { description: 'The read token, which may not change dead letters.', schema: ErrorBody },
};

/** Every /api route answers 401 without the token it needs. */
const guarded = (route: RouteDescription, answers = unauthorized): RouteDescription => ({
  ...route,
  responses: { ...route.responses, ...answers },
});

/** Every route the query-api serves, described with the schemas that validate its input. */
export function queryApiRoutes(config: QueryConfig): RouteDescription[] {
  return [
    healthRoute,
    readyRoute,
    metricsRoute,
    openApiRoute,
    ...dataRoutes(config).map((route) => guarded(route)),
    ...changeRoutes.map((route) => guarded(route, forbidden)),
  ];
}

function dataRoutes(config: QueryConfig): RouteDescription[] {
  return [
    {
      method: 'get',
      path: '/api/ingest/summary',
      summary:
        'Queue health, over every stream partition, and one page of series with their latest raw and rollup points',
      query: seriesPageQuerySchema(config.maxSeriesPage),
      responses: {
        ...ok(
          'Queue figures and series',
          Type.Object({
            queue: Type.Object(QueueFigures, {
              description:
                "Every partition added up; the lag is null if any partition's is, the consumers the most any partition has.",
            }),
            partitions: Type.Optional(
              Type.Array(Type.Object({ partition: Type.Integer(), ...QueueFigures }), {
                description:
                  "Each partition's figures, in partition order; only when the stream has several partitions.",
              }),
            ),
            metrics: Type.Array(
              Type.Object({
                metric: Type.String(),
                source: Type.String(),
                raw: Nullable(Point),
                rollup: Nullable(Point),
              }),
            ),
            next: Cursor,
          }),
        ),
        ...badRequest,
        ...redisDown,
      },
    },
    {
      method: 'get',
      path: '/api/ingest/events/recent',
      summary: 'The newest stream entries, newest first across every partition',
      query: recentQuerySchema(config.maxRecent),
      responses: {
        ...ok(
          'Entries',
          Type.Object({
            events: Type.Array(
              Type.Object({
                id: Type.String(),
                source: Nullable(Type.String()),
                metric: Nullable(Type.String()),
                value: Type.Union([Type.Number(), Type.String(), Type.Null()]),
                occurredAt: Nullable(Type.String()),
              }),
            ),
          }),
        ),
        ...badRequest,
        ...redisDown,
      },
    },
    {
      method: 'get',
      path: '/api/ingest/series',
      summary: 'One page of known series, in name order',
      query: seriesPageQuerySchema(config.maxSeriesPage),
      responses: {
        ...ok(
          'Series',
          Type.Object({
            series: Type.Array(
              Type.Object({
                metric: Type.String(),
                source: Type.String(),
                labels: Type.Object({ metric: Type.String(), source: Type.String() }),
              }),
            ),
            next: Cursor,
          }),
        ),
        ...badRequest,
        ...redisDown,
      },
    },
    {
      method: 'get',
      path: '/api/ingest/series/:metric/:source/range',
      summary: 'Raw points of one series, or its buckets from a configured rollup or aggregated on the fly',
      params: seriesParamsSchema,
      query: rangeQuerySchema(config.maxPoints),
      responses: {
        ...ok(
          'Points, oldest first',
          Type.Object({
            metric: Type.String(),
            source: Type.String(),
            from: Type.Integer({ description: 'The start used, epoch milliseconds.' }),
            to: Type.Integer({ description: 'The end used, epoch milliseconds.' }),
            aggregation: Nullable(
              Type.Object({
                type: Aggregation,
                bucketMs: Type.Integer(),
                tier: Type.Boolean({ description: 'True when a configured rollup answered.' }),
              }),
            ),
            points: Type.Array(Point),
          }),
        ),
        ...badRequest,
        ...redisDown,
      },
    },
    {
      method: 'get',
      path: '/api/ingest/metrics/:metric/range',
      summary: "One metric across all its sources: each source's buckets reduced per bucket",
      params: metricParamsSchema,
      query: metricRangeQuerySchema,
      responses: {
        ...ok(
          'Reduced points, oldest first',
          Type.Object({
            metric: Type.String(),
            reduce: Type.Union(SOURCE_REDUCERS.map((reducer) => Type.Literal(reducer))),
            aggregation: Type.Object({ type: Aggregation, bucketMs: Type.Integer() }),
            sources: Type.Integer({ description: 'How many series were reduced.' }),
            points: Type.Array(Point),
          }),
        ),
        ...badRequest,
        ...redisDown,
      },
    },
    {
      method: 'get',
      path: DEAD_LETTERS_PATH,
      summary: 'One page of dead letters, newest first across every partition',
      query: deadLetterQuerySchema(config.maxRecent),
      responses: {
        ...ok('Dead letters', Type.Object({ deadLetters: Type.Array(DeadLetter), next: Cursor })),
        ...badRequest,
        ...redisDown,
      },
    },
    ...dashboardApiRoutes,
  ];
}

const changeRoutes: RouteDescription[] = [
  {
    method: 'post',
    path: `${DEAD_LETTERS_PATH}/replay`,
    summary: 'Put dead letters back on the stream of their partition, with their failure added to `deadLetterHistory`',
    body: deadLetterSelectionSchema,
    responses: {
      ...ok(
        'Replayed',
        Type.Object({
          replayed: Type.Integer(),
          ids: Type.Array(Type.String(), {
            description:
              'The new stream ids, in replay order; `<partition>:<stream id>` when the stream has several partitions.',
          }),
          missing: Missing,
        }),
      ),
      ...badRequest,
      ...redisDown,
    },
  },
  {
    method: 'post',
    path: `${DEAD_LETTERS_PATH}/delete`,
    summary: 'Delete dead letters',
    body: deadLetterSelectionSchema,
    responses: {
      ...ok('Deleted', Type.Object({ deleted: Type.Integer(), missing: Missing })),
      ...badRequest,
      ...redisDown,
    },
  },
];

export function queryApiDocument(config: QueryConfig): OpenApiDocument {
  return buildOpenApiDocument(
    {
      title: 'redis-ingest query API',
      version: '0.1.0',
      description: 'Reads what the ingest pipeline stored in Redis.',
    },
    queryApiRoutes(config),
  );
}
