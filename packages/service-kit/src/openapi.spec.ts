import { buildOpenApiDocument, openApiPath, type RouteDescription } from './openapi';

// Shaped as TypeBox builds them, symbol-keyed metadata included.
const kind = Symbol.for('TypeBox.Kind');
const name = { [kind]: 'String', type: 'string', pattern: '^[a-z]+$', description: 'A name.' };
const point = { type: 'object', properties: { timestampMs: { type: 'integer' } }, required: ['timestampMs'] };

const routes: RouteDescription[] = [
  {
    method: 'get',
    path: '/things/:thing/range',
    summary: 'A range of one thing',
    params: { properties: { thing: name } },
    query: { properties: { limit: { type: 'integer', minimum: 1 }, from: name }, required: ['from'] },
    responses: {
      200: { description: 'The points', schema: { type: 'array', items: point } },
      400: { description: 'Bad input' },
    },
  },
  {
    method: 'post',
    path: '/things/:thing/range',
    summary: 'Replace a range',
    params: { properties: { thing: name } },
    body: { type: 'object', properties: { points: { type: 'array', items: point } } },
    responses: { 204: { description: 'Replaced' } },
  },
  { method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: { description: 'Up' } } },
];

describe('buildOpenApiDocument', () => {
  const document = buildOpenApiDocument({ title: 'things', version: '1.0.0' }, routes);

  it('writes an OpenAPI 3.1 document with one path item per path', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toEqual({ title: 'things', version: '1.0.0' });
    expect(Object.keys(document.paths)).toEqual(['/things/{thing}/range', '/healthz']);
    expect(Object.keys(document.paths['/things/{thing}/range']!)).toEqual(['get', 'post']);
  });

  it('turns path and query properties into parameters, path ones always required', () => {
    expect(document.paths['/things/{thing}/range']!.get).toEqual({
      summary: 'A range of one thing',
      parameters: [
        {
          name: 'thing',
          in: 'path',
          required: true,
          description: 'A name.',
          schema: { type: 'string', pattern: '^[a-z]+$' },
        },
        { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
        {
          name: 'from',
          in: 'query',
          required: true,
          description: 'A name.',
          schema: { type: 'string', pattern: '^[a-z]+$' },
        },
      ],
      responses: {
        200: {
          description: 'The points',
          content: { 'application/json': { schema: { type: 'array', items: point } } },
        },
        400: { description: 'Bad input' },
      },
    });
  });

  it('describes a JSON request body and leaves out what a route lacks', () => {
    expect(document.paths['/things/{thing}/range']!.post).toMatchObject({
      requestBody: { required: true, content: { 'application/json': { schema: routes[1]!.body } } },
    });
    expect(document.paths['/healthz']!.get).toEqual({ summary: 'Liveness', responses: { 200: { description: 'Up' } } });
  });

  it('is plain JSON, without the schemas’ symbol keys', () => {
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
    const [parameter] = (document.paths['/things/{thing}/range']!.get as { parameters: object[] }).parameters;
    expect(Object.getOwnPropertySymbols((parameter as { schema: object }).schema)).toEqual([]);
  });

  it('refuses a route described twice', () => {
    expect(() => buildOpenApiDocument({ title: 't', version: '1' }, [routes[2]!, routes[2]!])).toThrow(
      'GET /healthz is described twice',
    );
  });
});

describe('openApiPath', () => {
  it('spells Express parameters in braces', () => {
    expect(openApiPath('/a/:b_1/c/:d')).toBe('/a/{b_1}/c/{d}');
    expect(openApiPath('/plain')).toBe('/plain');
  });
});
