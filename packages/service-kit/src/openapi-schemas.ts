import { Type, type TSchema } from '@sinclair/typebox';
import type { RouteResponse } from './openapi';

/** Pieces every API's document shares, so all three describe errors and health alike. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorBody = Type.Object({
  error: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
});

export const ok = (description: string, schema: TSchema): Record<number, RouteResponse> => ({
  200: { description, schema },
});
export const badRequest: Record<number, RouteResponse> = {
  400: { description: 'A parameter is invalid; `errors` names each one.', schema: ErrorBody },
};
export const redisDown: Record<number, RouteResponse> = {
  503: { description: 'Redis is unreachable; retry later.', schema: ErrorBody },
};

export const healthRoute = {
  method: 'get',
  path: '/healthz',
  summary: 'Liveness; answers without Redis',
  responses: ok('The process is up', Type.Object({ status: Type.Literal('ok') })),
} as const;

export const openApiRoute = {
  method: 'get',
  path: '/openapi.json',
  summary: 'This document',
  responses: ok('OpenAPI 3.1', Type.Object({}, { additionalProperties: true })),
} as const;
