/**
 * Builds an OpenAPI 3.1 document from route descriptions whose schemas are JSON Schema objects, as
 * TypeBox builds them. 3.1 takes JSON Schema 2020-12 as it is, so the validators' own schemas
 * describe the API and the two cannot drift apart.
 */

/** A JSON Schema; TypeBox schemas qualify (their symbol-keyed metadata is dropped). */
export type JsonSchema = object;

/** An object schema whose properties become one parameter each. */
export interface ParameterSchema {
  readonly properties: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
}

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';

export interface RouteResponse {
  readonly description: string;
  /** The JSON body; omitted for responses without one. */
  readonly schema?: JsonSchema;
}

export interface RouteDescription {
  readonly method: HttpMethod;
  /** Express style, e.g. `/series/:metric/range`. */
  readonly path: string;
  readonly summary: string;
  readonly query?: ParameterSchema;
  readonly params?: ParameterSchema;
  /** The JSON request body. */
  readonly body?: JsonSchema;
  readonly responses: Readonly<Record<number, RouteResponse>>;
}

export interface ApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: ApiInfo;
  readonly paths: Record<string, Record<string, Json>>;
}

/** A plain JSON copy: drops TypeBox's symbol keys and anything else JSON cannot carry. */
function plain(schema: JsonSchema): { [key: string]: Json } {
  return JSON.parse(JSON.stringify(schema)) as { [key: string]: Json };
}

/** `/a/:b/c` as OpenAPI spells it, `/a/{b}/c`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(location: 'query' | 'path', schema: ParameterSchema | undefined): Json[] {
  if (schema === undefined) return [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => {
    const { description, ...rest } = plain(property);
    return {
      name,
      in: location,
      // OpenAPI requires every path parameter to be required.
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(route: RouteDescription): Json {
  const responses: { [status: string]: Json } = {};
  for (const [status, { description, schema }] of Object.entries(route.responses)) {
    responses[status] =
      schema === undefined
        ? { description }
        : { description, content: { 'application/json': { schema: plain(schema) } } };
  }
  const allParameters = [...parameters('path', route.params), ...parameters('query', route.query)];
  return {
    summary: route.summary,
    ...(allParameters.length > 0 ? { parameters: allParameters } : {}),
    ...(route.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: plain(route.body) } } } }),
    responses,
  };
}

export function buildOpenApiDocument(info: ApiInfo, routes: readonly RouteDescription[]): OpenApiDocument {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const item = (paths[path] ??= {});
    if (item[route.method] !== undefined)
      throw new Error(`${route.method.toUpperCase()} ${route.path} is described twice`);
    item[route.method] = operation(route);
  }
  return { openapi: '3.1.0', info, paths };
}
