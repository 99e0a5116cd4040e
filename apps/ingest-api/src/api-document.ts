import { Type } from '@sinclair/typebox';
import { TelemetryEventSchema } from '@redis-ingest/redis-schema';
import {
  ErrorBody,
  buildOpenApiDocument,
  healthRoute,
  metricsRoute,
  openApiRoute,
  readyRoute,
  type OpenApiDocument,
  type RouteDescription,
} from '@redis-ingest/service-kit';
import type { IngestConfig } from './config';

const StreamId = Type.String({ pattern: '^\\d+-\\d+$', description: 'The stream entry id.' });
const FieldErrors = Type.Array(Type.Object({ path: Type.String(), message: Type.String() }));

const InfluxError = Type.Object({ code: Type.String(), message: Type.String(), error: Type.String() });

/** InfluxDB's two write routes; their bodies are line protocol, which a JSON schema cannot describe. */
function lineProtocolRoutes(config: IngestConfig): RouteDescription[] {
  const summary = (version: number) =>
    `Append Influx line protocol (plain, or Content-Encoding: gzip), as InfluxDB ${version} takes it: ` +
    'each numeric or boolean field of a point is one event, metric `<measurement>.<field>` (the measurement alone for a field named value) ' +
    `plus \`.<key>-<value>\` per other tag, source the ${config.lineMapping.sourceTag} tag ` +
    `(else ${config.lineMapping.fallbackSourceTag}). The device key as \`Token\` or \`Bearer\`, basic auth or the p parameter. ` +
    'The org, bucket, db and rp parameters are ignored.';
  const responses = {
    204: { description: 'Every point is in the stream.' },
    400: {
      description:
        'Rejected lines: the valid ones were appended (a partial write), `line` names the first bad line, `rejected` the ' +
        'first 100 with reasons. Or no lines at all, or an unknown precision.',
      schema: Type.Object({
        code: Type.String(),
        message: Type.String(),
        error: Type.String(),
        line: Type.Optional(Type.Integer()),
        accepted: Type.Optional(Type.Integer()),
        rejectedLines: Type.Optional(Type.Integer()),
        rejected: Type.Optional(Type.Array(Type.Object({ line: Type.Integer(), message: Type.String() }))),
      }),
    },
    401: { description: 'No key while one is required, or an unknown, revoked or malformed one.', schema: InfluxError },
    403: {
      description: 'The device key may not write a source of the request; nothing appended.',
      schema: InfluxError,
    },
    413: {
      description: `Inflated body over ${config.bodyLimitBytes} bytes, more than ${config.lineMaxEvents} events, or more than the rate limit's burst.`,
      schema: InfluxError,
    },
    415: { description: 'A content encoding other than gzip or deflate.', schema: InfluxError },
    429: { description: 'Over the rate limit; nothing appended. See Retry-After (seconds).', schema: InfluxError },
    503: {
      description: 'Redis unreachable, the pipeline behind, or replicas short; see Retry-After (seconds).',
      schema: InfluxError,
    },
  };
  const precision = (values: string[]) =>
    Type.Optional(
      Type.Union(
        values.map((value) => Type.Literal(value)),
        { default: 'ns' },
      ),
    );
  return [
    {
      method: 'post',
      path: '/api/v2/write',
      summary: summary(2),
      query: Type.Object({
        org: Type.Optional(Type.String()),
        bucket: Type.Optional(Type.String()),
        precision: precision(['ns', 'us', 'ms', 's']),
      }),
      responses,
    },
    {
      method: 'post',
      path: '/write',
      summary: summary(1),
      query: Type.Object({
        db: Type.Optional(Type.String()),
        rp: Type.Optional(Type.String()),
        u: Type.Optional(Type.String()),
        p: Type.Optional(Type.String()),
        precision: precision(['n', 'ns', 'u', 'us', 'ms', 's', 'm', 'h']),
      }),
      responses,
    },
  ];
}

/** The ingest-api's write routes and its probes, described with the schema that validates events. */
export function ingestApiRoutes(config: IngestConfig): RouteDescription[] {
  return [
    healthRoute,
    readyRoute,
    metricsRoute,
    openApiRoute,
    {
      method: 'post',
      path: '/api/ingest/events',
      summary:
        'Append one event, a JSON array of events, or application/x-ndjson (one event per line). Each event of a ' +
        'batch is validated on its own; valid ones are appended in request order, atomically per stream partition ' +
        "(each source's events go to one partition: INGEST_STREAM_PARTITIONS). Once a device key " +
        'exists (or with INGEST_AUTH_REQUIRED=true) requests need `Authorization: Bearer <keyId>.<secret>`. ' +
        "With INGEST_RATE_LIMIT_EVENTS_PER_SECOND set, each valid event counts against the key's budget " +
        "(each source's while no keys exist).",
      body: Type.Union([
        TelemetryEventSchema,
        Type.Array(TelemetryEventSchema, { minItems: 1, maxItems: config.maxBatch }),
      ]),
      responses: {
        200: {
          description: "A single event whose eventId was seen inside the idempotency window: the first entry's id.",
          schema: Type.Object({ id: StreamId, value: TelemetryEventSchema }),
        },
        202: {
          description:
            'In the stream. One event: its id and the stored event. A batch: counts, ids in order, rejected events by index.',
          schema: Type.Union([
            Type.Object({ id: StreamId, value: TelemetryEventSchema }),
            Type.Object({
              accepted: Type.Integer(),
              ids: Type.Array(StreamId),
              duplicates: Type.Integer(),
              rejected: Type.Array(Type.Object({ index: Type.Integer(), errors: FieldErrors })),
            }),
          ]),
        },
        400: {
          description: 'Invalid event (every field error listed), malformed JSON, or an empty batch.',
          schema: ErrorBody,
        },
        401: {
          description:
            'No token while one is required, or an unknown, revoked or malformed one (sent tokens are always checked). Carries WWW-Authenticate: Bearer.',
          schema: ErrorBody,
        },
        403: {
          description:
            'The device key may not write a source of the request. A batch is refused whole, nothing appended; ' +
            '`forbiddenSources` names every such source.',
          schema: Type.Object({ error: Type.String(), forbiddenSources: Type.Array(Type.String()) }),
        },
        413: {
          description:
            `Body over ${config.bodyLimitBytes} bytes, more than ${config.maxBatch} events, or more valid events ` +
            "than the rate limit's burst (INGEST_RATE_LIMIT_BURST), which no wait would admit.",
          schema: ErrorBody,
        },
        415: { description: 'A content type other than application/json or application/x-ndjson.', schema: ErrorBody },
        429: {
          description:
            'Over the rate limit; nothing appended. Retry-After (seconds) and `retryAfterMs` say when the same request fits.',
          schema: Type.Object({ error: Type.String(), retryAfterMs: Type.Integer() }),
        },
        503: {
          description:
            "Nothing appended: Redis (or the partition of an event's source) is unreachable, the consumer group is " +
            'behind by INGEST_MAX_BACKLOG entries on a partition the request writes to, or the replicas did not ' +
            'acknowledge in time (INGEST_WAIT_REPLICAS; retry with the same eventIds). Or, for a batch spanning ' +
            'partitions of which only some took their events: `appended` lists the events that are in (index in ' +
            'the request, id), `notAppended` those to send again and why. See Retry-After.',
          schema: Type.Union([
            ErrorBody,
            Type.Object({
              error: Type.String(),
              appended: Type.Array(Type.Object({ index: Type.Integer(), id: StreamId, duplicate: Type.Boolean() })),
              notAppended: Type.Array(
                Type.Object({
                  index: Type.Integer(),
                  reason: Type.Union(
                    ['backpressure', 'not_replicated', 'unavailable', 'failed'].map((reason) => Type.Literal(reason)),
                  ),
                }),
              ),
              rejected: Type.Array(Type.Object({ index: Type.Integer(), errors: FieldErrors })),
            }),
          ]),
        },
      },
    },
    ...lineProtocolRoutes(config),
  ];
}

export function ingestApiDocument(config: IngestConfig): OpenApiDocument {
  return buildOpenApiDocument(
    {
      title: 'redis-ingest ingest API',
      version: '0.1.0',
      description: 'Accepts telemetry events into a Redis Stream.',
    },
    ingestApiRoutes(config),
  );
}
