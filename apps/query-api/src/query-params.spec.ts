import { HttpError } from '@redis-ingest/service-kit';
import { compileQuery, recentQuerySchema, seriesPageQuerySchema } from './query-params';

const parseSummary = compileQuery(seriesPageQuerySchema(50));
const parseRecent = compileQuery(recentQuerySchema(20));

function rejectionPaths(parse: (query: unknown) => unknown, query: Record<string, unknown>): string[] {
  try {
    parse(query);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(400);
    return ((error as HttpError).details.errors as { path: string }[]).map(({ path }) => path);
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('query parameters', () => {
  it('accepts an empty query', () => {
    expect(parseSummary({})).toEqual({});
    expect(parseRecent({})).toEqual({});
  });

  it('turns digit strings into integers and keeps names as they are', () => {
    expect(parseSummary({ metric: 'cpu.load', source: 'host-1_a', limit: '50', cursor: 'cpu.load:host-0' })).toEqual({
      metric: 'cpu.load',
      source: 'host-1_a',
      limit: 50,
      cursor: 'cpu.load:host-0',
    });
    expect(parseRecent({ count: '007' })).toEqual({ count: 7 });
  });

  it.each([
    [{ limit: '0' }, '/limit'],
    [{ limit: '51' }, '/limit'],
    [{ limit: '1e1' }, '/limit'],
    [{ limit: ' 5' }, '/limit'],
    [{ limit: '-1' }, '/limit'],
    [{ limit: '2.5' }, '/limit'],
    [{ metric: '' }, '/metric'],
    [{ metric: 'a:b' }, '/metric'],
    [{ source: 'a{b}' }, '/source'],
    [{ source: 'x'.repeat(129) }, '/source'],
    [{ source: ['a', 'b'] }, '/source'],
    [{ cursor: 'no-colon' }, '/cursor'],
    [{ cursor: 'a:b:c' }, '/cursor'],
    [{ page: '2' }, '/page'],
  ])('rejects the summary query %p at %s', (query, path) => {
    expect(rejectionPaths(parseSummary, query)).toContain(path);
  });

  it.each([[{ count: '0' }], [{ count: '21' }], [{ count: 'ten' }]])('rejects the recent query %p', (query) => {
    expect(rejectionPaths(parseRecent, query)).toContain('/count');
  });

  it('names every bad parameter in the message', () => {
    expect(() => parseSummary({ limit: 'x', colour: 'red' })).toThrow(/\/limit.*\/colour|\/colour.*\/limit/);
  });
});
