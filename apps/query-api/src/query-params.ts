import { FormatRegistry, KindGuard, Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  AGGREGATIONS,
  NAME_MAX_LENGTH,
  SERIES_MEMBER_PATTERN,
  SOURCE_REDUCERS,
  describeErrors,
  nameSchema,
  type FieldError,
} from '@redis-ingest/redis-schema';
import { HttpError } from '@redis-ingest/service-kit';
import { isStreamIdInRange, parseEntryRef } from './stream-ids';

const nameFilter = (description: string) => Type.Optional(nameSchema(description));

/**
 * `<milliseconds>-<sequence>`, as Redis numbers stream entries, led by `<partition>:` when the
 * stream has several partitions (see formatEntryRef).
 */
export const ENTRY_REF_PATTERN = '^(\\d{1,3}:)?\\d{1,20}-\\d{1,20}$';
// The pattern lets 20 digits through; the format holds them to what Redis takes as a stream id.
const entryRefShape = new RegExp(ENTRY_REF_PATTERN);
FormatRegistry.Set('entry-ref', (value) => entryRefShape.test(value) && isStreamIdInRange(parseEntryRef(value).id));
const entryRef = (description: string) =>
  Type.String({
    maxLength: 45,
    pattern: ENTRY_REF_PATTERN,
    format: 'entry-ref',
    description: `${description} Both numbers at most 2^64 - 1.`,
  });

// Read by parseTime, which names the parameter when the text is no time.
const time = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 40, description }));

/** What parseDuration reads: a whole number of ms, s, m, h or d, or plain milliseconds. */
const DURATION_PATTERN = '^\\d{1,15}(ms|s|m|h|d)?$';

const aggregation = Type.Optional(
  Type.Union(
    AGGREGATIONS.map((type) => Type.Literal(type)),
    { description: 'Bucket aggregation; needs `bucket`.' },
  ),
);
const bucket = Type.Optional(
  Type.String({
    maxLength: 17,
    pattern: DURATION_PATTERN,
    description: 'Bucket width such as `1m`, `1h` or milliseconds; needs `agg`.',
  }),
);

export function seriesPageQuerySchema(maxLimit: number) {
  return Type.Object(
    {
      metric: nameFilter('Only series of this metric.'),
      source: nameFilter('Only series of this source.'),
      metricPrefix: nameFilter(
        'Only series of metrics whose name starts with this; not with `metric`, nor with `sourcePrefix`.',
      ),
      sourcePrefix: nameFilter(
        'Only series of sources whose name starts with this; not with `source`, nor with `metricPrefix`.',
      ),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, description: 'Series per page.' })),
      // The last index member of the previous page, `name:name`.
      cursor: Type.Optional(
        Type.String({
          maxLength: 2 * NAME_MAX_LENGTH + 1,
          pattern: SERIES_MEMBER_PATTERN,
          description: 'The `next` of the previous page.',
        }),
      ),
    },
    { additionalProperties: false },
  );
}

export function recentQuerySchema(maxCount: number) {
  return Type.Object(
    {
      count: Type.Optional(
        Type.Integer({ minimum: 1, maximum: maxCount, description: 'Entries to return, newest first.' }),
      ),
    },
    { additionalProperties: false },
  );
}

export function deadLetterQuerySchema(maxCount: number) {
  return Type.Object(
    {
      count: Type.Optional(
        Type.Integer({ minimum: 1, maximum: maxCount, description: 'Dead letters per page, newest first.' }),
      ),
      cursor: Type.Optional(
        entryRef('The `next` of the previous page; a bare stream id starts below that id in every partition.'),
      ),
    },
    { additionalProperties: false },
  );
}

export const seriesParamsSchema = Type.Object(
  { metric: nameSchema('The metric of the series.'), source: nameSchema('The source of the series.') },
  { additionalProperties: false },
);

export const metricParamsSchema = Type.Object(
  { metric: nameSchema('The metric to reduce.') },
  { additionalProperties: false },
);

const timeBounds = {
  from: time(
    'Start, inclusive: epoch milliseconds or an ISO-8601 date-time with an offset. Defaults to an hour before `to`.',
  ),
  to: time('End, inclusive: epoch milliseconds or an ISO-8601 date-time with an offset. Defaults to now.'),
};

export function rangeQuerySchema(maxPoints: number) {
  return Type.Object(
    {
      ...timeBounds,
      agg: aggregation,
      bucket,
      limit: Type.Optional(
        Type.Integer({ minimum: 1, maximum: maxPoints, description: 'At most this many points, oldest first.' }),
      ),
    },
    { additionalProperties: false },
  );
}

export const metricRangeQuerySchema = Type.Object(
  {
    ...timeBounds,
    agg: Type.Optional(
      Type.Union(
        AGGREGATIONS.map((type) => Type.Literal(type)),
        {
          description: "Each source's bucket aggregation; needs `bucket`. Without both, the first configured rollup's.",
        },
      ),
    ),
    bucket,
    reduce: Type.Optional(
      Type.Union(
        SOURCE_REDUCERS.map((reducer) => Type.Literal(reducer)),
        { description: "How the sources' buckets combine; avg by default." },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The most ids one dead-letter request may name. */
export const MAX_SELECTED_IDS = 1_000;

// One object with exactly one property rather than a union, so a bad body gets errors naming the field.
export const deadLetterSelectionSchema = Type.Object(
  {
    ids: Type.Optional(
      Type.Array(
        entryRef('A dead-letter id as listed: `<partition>:<stream id>` when the stream has several partitions.'),
        {
          minItems: 1,
          maxItems: MAX_SELECTED_IDS,
          uniqueItems: true,
          description: 'Dead-letter entry ids.',
        },
      ),
    ),
    all: Type.Optional(Type.Literal(true, { description: 'Every dead letter present when the request starts.' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1, description: 'Either `ids` or `all`.' },
);

/** The 400 every validation failure answers with, naming each bad field. */
export function invalid(what: string, errors: readonly FieldError[]): HttpError {
  return new HttpError(400, `Invalid ${what}: ${describeErrors(errors)}`, { errors });
}

function compile<T extends TSchema>(
  schema: T,
  what: string,
  prepare: (value: unknown) => unknown,
): (value: unknown) => Static<T> {
  const checker = TypeCompiler.Compile(schema);
  return (value) => {
    const candidate = prepare(value);
    try {
      if (checker.Check(candidate)) return candidate;
      throw invalid(
        what,
        [...checker.Errors(candidate)].map(({ path, message }) => ({ path, message })),
      );
    } catch (error) {
      // Some checks (uniqueItems hashes every item) recurse as deep as the input; JSON nested
      // thousands deep exhausts the stack, and is no valid input anywhere.
      if (error instanceof RangeError) throw invalid(what, [{ path: '', message: 'Nested too deeply' }]);
      throw error;
    }
  };
}

/**
 * Compiles a query-string schema once and returns a parser that throws a 400 naming every bad
 * parameter. Query values arrive as strings, so plain digit strings become numbers for the integer
 * parameters first; anything else ("1e2", " 5", "0x10") stays a string and fails the integer check.
 */
export function compileQuery<T extends TObject>(schema: T): (query: unknown) => Static<T> {
  const integerParams = Object.entries(schema.properties)
    .filter(([, property]) => KindGuard.IsInteger(property))
    .map(([param]) => param);
  return compile(schema, 'query parameters', (query) => {
    const candidate: Record<string, unknown> = { ...(query as Record<string, unknown>) };
    for (const param of integerParams) {
      const value = candidate[param];
      if (typeof value === 'string' && /^\d+$/.test(value)) candidate[param] = Number(value);
    }
    return candidate;
  });
}

export function compileParams<T extends TObject>(schema: T): (params: unknown) => Static<T> {
  return compile(schema, 'path parameters', (params) => ({ ...(params as Record<string, unknown>) }));
}

export function compileBody<T extends TSchema>(schema: T): (body: unknown) => Static<T> {
  // express.json leaves req.body undefined without a body; that is a body of the wrong type.
  return compile(schema, 'request body', (body) => body ?? null);
}
