import { KindGuard, Type, type Static, type TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { NAME_MAX_LENGTH, NAME_PATTERN, describeErrors } from '@redis-ingest/redis-schema';
import { HttpError } from '@redis-ingest/service-kit';

const nameFilter = (description: string) =>
  Type.Optional(Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH, pattern: NAME_PATTERN, description }));

const NAME_BODY = NAME_PATTERN.replace(/^\^|\$$/g, '');

export function summaryQuerySchema(maxLimit: number) {
  return Type.Object(
    {
      metric: nameFilter('Only series of this metric.'),
      source: nameFilter('Only series of this source.'),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, description: 'Series per page.' })),
      // The last index member of the previous page, `name:name`.
      cursor: Type.Optional(
        Type.String({ maxLength: 2 * NAME_MAX_LENGTH + 1, pattern: `^${NAME_BODY}:${NAME_BODY}$`, description: 'The `next` of the previous page.' }),
      ),
    },
    { additionalProperties: false },
  );
}

export function recentQuerySchema(maxCount: number) {
  return Type.Object(
    { count: Type.Optional(Type.Integer({ minimum: 1, maximum: maxCount, description: 'Entries to return, newest first.' })) },
    { additionalProperties: false },
  );
}

/**
 * Compiles a query-string schema once and returns a parser that throws a 400 naming every bad
 * parameter. Query values arrive as strings, so plain digit strings become numbers for the integer
 * parameters first; anything else ("1e2", " 5", "0x10") stays a string and fails the integer check.
 */
export function compileQuery<T extends TObject>(schema: T): (query: unknown) => Static<T> {
  const checker = TypeCompiler.Compile(schema);
  const integerParams = Object.entries(schema.properties)
    .filter(([, property]) => KindGuard.IsInteger(property))
    .map(([name]) => name);
  return (query) => {
    const candidate: Record<string, unknown> = { ...(query as Record<string, unknown>) };
    for (const name of integerParams) {
      const value = candidate[name];
      if (typeof value === 'string' && /^\d+$/.test(value)) candidate[name] = Number(value);
    }
    if (checker.Check(candidate)) return candidate;
    const errors = [...checker.Errors(candidate)].map(({ path, message }) => ({ path, message }));
    throw new HttpError(400, `Invalid query parameters: ${describeErrors(errors)}`, { errors });
  };
}
