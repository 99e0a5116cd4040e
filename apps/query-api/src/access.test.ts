import pino from 'pino';
import { isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import { loadQueryConfig } from './config';
import { start, type RunningQueryApi } from './server';

const READ_TOKEN = 'read-token-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

const queryConfig = (env: Record<string, string>) =>
  loadQueryConfig(
    isolatedEnv(testRedisUrl(), {
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      INGEST_ROLLUP_BACKEND: 'native',
      ...env,
    }),
  );

const READ_ROUTES = [
  '/api/ingest/summary',
  '/api/ingest/events/recent',
  '/api/ingest/series',
  '/api/ingest/series/m/s/range',
  '/api/ingest/metrics/m/range',
  '/api/ingest/dead-letters',
  '/api/ingest/rollups',
  '/api/ingest/stream',
];
const ADMIN_ROUTES = ['/api/ingest/dead-letters/replay', '/api/ingest/dead-letters/delete'];
const OPEN_ROUTES = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/'];

function client(api: RunningQueryApi) {
  const base = `http://127.0.0.1:${api.port}`;
  const auth = (authorization: string | undefined): Record<string, string> =>
    authorization === undefined ? {} : { authorization };
  return {
    get: (path: string, authorization?: string) => fetch(`${base}${path}`, { headers: auth(authorization) }),
    post: (path: string, body: unknown, authorization?: string) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth(authorization) },
        body: JSON.stringify(body),
      }),
  };
}

const bearer = (token: string) => `Bearer ${token}`;

describe('query-api with read and admin tokens', () => {
  let api: RunningQueryApi;
  let http: ReturnType<typeof client>;
  const lines: string[] = [];

  beforeAll(async () => {
    api = await start(
      queryConfig({ QUERY_READ_TOKEN: READ_TOKEN, QUERY_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'trace' }),
      pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }),
    );
    http = client(api);
  });
  afterAll(() => api.stop());

  it.each(READ_ROUTES)(
    'answers GET %s with 401 without a token or with a wrong one, and 200 with either token',
    async (path) => {
      const missing = await http.get(path);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="query"');
      expect(typeof ((await missing.json()) as { error: unknown }).error).toBe('string');
      const wrong = await http.get(path, bearer(`${READ_TOKEN}x`));
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="query", error="invalid_token"');
      expect((await http.get(path, bearer(READ_TOKEN))).status).toBe(200);
      expect((await http.get(path, bearer(ADMIN_TOKEN))).status).toBe(200);
    },
  );

  it.each(ADMIN_ROUTES)(
    'answers POST %s with 401 without a token, 403 for the read token and 200 for the admin token',
    async (path) => {
      expect((await http.post(path, { ids: ['1-0'] })).status).toBe(401);
      expect((await http.post(path, { ids: ['1-0'] }, bearer('not-a-token-at-all'))).status).toBe(401);
      const forbidden = await http.post(path, { ids: ['1-0'] }, bearer(READ_TOKEN));
      expect(forbidden.status).toBe(403);
      expect(typeof ((await forbidden.json()) as { error: unknown }).error).toBe('string');
      expect((await http.post(path, { ids: ['1-0'] }, bearer(ADMIN_TOKEN))).status).toBe(200);
    },
  );

  it('checks the token before reading the body', async () => {
    const response = await http.post(ADMIN_ROUTES[0]!, '{"ids": [', bearer(READ_TOKEN));
    expect(response.status).toBe(403);
  });

  it.each([
    ['a Basic header', `Basic ${Buffer.from(`x:${READ_TOKEN}`).toString('base64')}`],
    ['an empty bearer', 'Bearer '],
    ['the token without the scheme', READ_TOKEN],
    ['two tokens', `Bearer ${READ_TOKEN} ${READ_TOKEN}`],
  ])('refuses %s with 401', async (_, authorization) => {
    const response = await http.get('/api/ingest/summary', authorization);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="query", error="invalid_request"');
  });

  it.each(OPEN_ROUTES)('serves %s without a token', async (path) => {
    expect((await http.get(path)).status).toBe(200);
  });

  it('never writes a token to the log', async () => {
    await http.get('/api/ingest/summary', bearer(READ_TOKEN));
    await http.get('/api/ingest/summary', bearer(`${ADMIN_TOKEN}-wrong`));
    await http.post(ADMIN_ROUTES[1]!, { ids: ['1-0'] }, bearer(ADMIN_TOKEN));
    expect(lines.length).toBeGreaterThan(3);
    const log = lines.join('\n');
    expect(log).not.toContain(READ_TOKEN.slice(0, 12));
    expect(log).not.toContain(ADMIN_TOKEN.slice(0, 12));
  });
});

describe('query-api with only an admin token', () => {
  it('leaves reads open and guards changes', async () => {
    const api = await start(queryConfig({ QUERY_ADMIN_TOKEN: ADMIN_TOKEN }));
    try {
      const http = client(api);
      expect((await http.get('/api/ingest/summary')).status).toBe(200);
      expect((await http.post(ADMIN_ROUTES[0]!, { ids: ['1-0'] })).status).toBe(401);
      expect((await http.post(ADMIN_ROUTES[0]!, { ids: ['1-0'] }, bearer(ADMIN_TOKEN))).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describe('query-api with only a read token', () => {
  it('guards changes with the read token too, never leaving them more open than reads', async () => {
    const api = await start(queryConfig({ QUERY_READ_TOKEN: READ_TOKEN }));
    try {
      const http = client(api);
      expect((await http.post(ADMIN_ROUTES[1]!, { ids: ['1-0'] })).status).toBe(401);
      expect((await http.post(ADMIN_ROUTES[1]!, { ids: ['1-0'] }, bearer(READ_TOKEN))).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describe('query-api without tokens', () => {
  it('runs open and says so at start-up, naming the variables', async () => {
    const lines: string[] = [];
    const api = await start(
      queryConfig({}),
      pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    );
    try {
      const http = client(api);
      expect((await http.get('/api/ingest/summary')).status).toBe(200);
      expect((await http.post(ADMIN_ROUTES[1]!, { ids: ['1-0'] })).status).toBe(200);
      const warnings = lines
        .map((line) => JSON.parse(line) as { level: number; variable?: string })
        .filter(({ level }) => level === 40);
      expect(warnings.map(({ variable }) => variable)).toEqual(['QUERY_READ_TOKEN', 'QUERY_ADMIN_TOKEN']);
    } finally {
      await api.stop();
    }
  });
});
