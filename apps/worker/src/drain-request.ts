import { Type } from '@sinclair/typebox';
import { nameSchema } from '@redis-ingest/redis-schema';

/** The body of the on-demand drain; validates requests and describes them in the API document. */
export const DrainRequestSchema = Type.Object(
  {
    consumer: Type.Optional(nameSchema('Consumer name to read as.')),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, description: 'Most entries to read.' })),
  },
  { additionalProperties: false },
);
