import { Type } from '@sinclair/typebox';
import { AGGREGATIONS } from '@redis-ingest/redis-schema';
import { Nullable, ok, redisDown, type RouteDescription } from '@redis-ingest/service-kit';

export const ROLLUPS_PATH = '/api/ingest/rollups';
export const STREAM_PATH = '/api/ingest/stream';
export const REDIS_PATH = '/api/ingest/redis';

/** The read routes the dashboard needs beyond the series and queue routes. */
export const dashboardApiRoutes: RouteDescription[] = [
  {
    method: 'get',
    path: ROLLUPS_PATH,
    summary: 'The rollup backend and the configured tiers, in the order ranges and summaries use them',
    responses: {
      ...ok(
        'Backend and tiers',
        Type.Object({
          backend: Type.Union([Type.Literal('native'), Type.Literal('timeseries')]),
          rawRetentionMs: Type.Integer({ description: '0 keeps every raw sample.' }),
          tiers: Type.Array(
            Type.Object({
              aggregation: Type.Union(AGGREGATIONS.map((type) => Type.Literal(type))),
              bucketMs: Type.Integer(),
              retentionMs: Type.Integer({ description: '0 keeps every bucket.' }),
            }),
          ),
        }),
      ),
      ...redisDown,
    },
  },
  {
    method: 'get',
    path: STREAM_PATH,
    summary: 'Stream counters, every partition added up; two readings give the ingest rate',
    responses: {
      ...ok(
        'Counters',
        Type.Object({
          length: Type.Integer({ description: 'Entries in the stream now.' }),
          entriesAdded: Type.Integer({ description: 'Entries ever added; unaffected by trimming.' }),
          lastId: Nullable(Type.String({ description: 'The newest id any partition added; null before the first.' })),
          readAtMs: Type.Integer({ description: 'When the counters were read, epoch milliseconds.' }),
        }),
      ),
      ...redisDown,
    },
  },
  {
    method: 'get',
    path: REDIS_PATH,
    summary:
      'Redis memory and what its maxmemory-policy may delete, as the node of the first stream partition reports them',
    responses: {
      ...ok(
        'Memory and eviction policy',
        Type.Object({
          usedMemoryBytes: Type.Integer(),
          maxMemoryBytes: Type.Integer({ description: '0 when maxmemory is not set.' }),
          maxmemoryPolicy: Type.String(),
          evictionRisk: Type.Union(
            ['none', 'keys-with-ttl', 'any-key'].map((risk) => Type.Literal(risk)),
            {
              description:
                'any-key: accepted events can be deleted; keys-with-ttl: idempotency and rate-limit keys can.',
            },
          ),
        }),
      ),
      ...redisDown,
    },
  },
];
