import { ConfigError } from '@redis-ingest/redis-schema';
import { loadQueryConfig } from './config';

describe('loadQueryConfig', () => {
  it('defaults to port 8081 on every interface with limits of 100, 10,000 points and 10,000 sources', () => {
    const config = loadQueryConfig({});
    expect(config).toMatchObject({
      port: 8081,
      host: '0.0.0.0',
      maxSeriesPage: 100,
      maxRecent: 100,
      maxPoints: 10_000,
      maxSources: 10_000,
      redisTimeoutMs: 1000,
    });
    expect(config.redis).toEqual({ url: 'redis://localhost:6379' });
  });

  it('reads the query settings next to the pipeline ones', () => {
    const config = loadQueryConfig({
      QUERY_API_PORT: '0',
      QUERY_API_HOST: '127.0.0.1',
      QUERY_MAX_SERIES_PAGE: '1000',
      QUERY_MAX_RECENT: '5',
      QUERY_REDIS_TIMEOUT_MS: '250',
      QUERY_MAX_POINTS: '100000',
      QUERY_MAX_SOURCES: '3',
      INGEST_STREAM_KEY: 'events',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      maxSeriesPage: 1000,
      maxRecent: 5,
      maxPoints: 100_000,
      maxSources: 3,
      redisTimeoutMs: 250,
    });
    expect(config.keys.streamKey).toBe('events');
  });

  it.each([
    ['QUERY_API_PORT', '65536'],
    ['QUERY_API_PORT', 'http'],
    ['QUERY_MAX_SERIES_PAGE', '0'],
    ['QUERY_MAX_SERIES_PAGE', '1001'],
    ['QUERY_MAX_RECENT', '0'],
    ['QUERY_MAX_RECENT', '1001'],
    ['QUERY_REDIS_TIMEOUT_MS', '5'],
    ['QUERY_MAX_POINTS', '0'],
    ['QUERY_MAX_POINTS', '100001'],
    ['QUERY_MAX_POINTS', '1e4'],
    ['QUERY_MAX_SOURCES', '0'],
    ['QUERY_MAX_SOURCES', '100001'],
    ['QUERY_READ_TOKEN', 'short'],
    ['QUERY_ADMIN_TOKEN', 'has a space in the middle'],
    ['QUERY_ADMIN_TOKEN', 'x'.repeat(513)],
    ['QUERY_HEADERS_TIMEOUT_MS', '50'],
    ['QUERY_KEEP_ALIVE_TIMEOUT_MS', '0'],
    ['QUERY_MAX_HEADER_BYTES', '512'],
    ['QUERY_STOP_DELAY_MS', '120001'],
  ])('rejects %s=%s naming the variable', (variable, value) => {
    expect(() => loadQueryConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadQueryConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}:`));
  });

  it("runs open without tokens, with the ingest-api's HTTP limits and no stop delay", () => {
    expect(loadQueryConfig({})).toMatchObject({
      readToken: undefined,
      adminToken: undefined,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxHeaderBytes: 16_384 },
      stopDelayMs: 0,
    });
  });

  it('reads the tokens, HTTP limits and stop delay', () => {
    const config = loadQueryConfig({
      QUERY_READ_TOKEN: 'read-0123456789abcdef',
      QUERY_ADMIN_TOKEN: 'admin-0123456789abcdef',
      QUERY_HEADERS_TIMEOUT_MS: '2000',
      QUERY_REQUEST_TIMEOUT_MS: '4000',
      QUERY_KEEP_ALIVE_TIMEOUT_MS: '1000',
      QUERY_MAX_HEADER_BYTES: '8192',
      QUERY_STOP_DELAY_MS: '3000',
    });
    expect(config).toMatchObject({
      readToken: 'read-0123456789abcdef',
      adminToken: 'admin-0123456789abcdef',
      http: { headersTimeoutMs: 2_000, requestTimeoutMs: 4_000, keepAliveTimeoutMs: 1_000, maxHeaderBytes: 8_192 },
      stopDelayMs: 3_000,
    });
  });

  it('refuses a request timeout shorter than the head timeout', () => {
    expect(() => loadQueryConfig({ QUERY_HEADERS_TIMEOUT_MS: '5000', QUERY_REQUEST_TIMEOUT_MS: '4000' })).toThrow(
      /^QUERY_REQUEST_TIMEOUT_MS: /,
    );
  });

  it('refuses to run in production without either token, naming the one missing', () => {
    const tokens = { QUERY_READ_TOKEN: 'read-0123456789abcdef', QUERY_ADMIN_TOKEN: 'admin-0123456789abcdef' };
    expect(loadQueryConfig({ NODE_ENV: 'production', ...tokens }).readToken).toBe(tokens.QUERY_READ_TOKEN);
    expect(() => loadQueryConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadQueryConfig({ NODE_ENV: 'production', QUERY_ADMIN_TOKEN: tokens.QUERY_ADMIN_TOKEN })).toThrow(
      /^QUERY_READ_TOKEN: .*NODE_ENV=production/,
    );
    expect(() => loadQueryConfig({ NODE_ENV: 'production', QUERY_READ_TOKEN: tokens.QUERY_READ_TOKEN })).toThrow(
      /^QUERY_ADMIN_TOKEN: .*NODE_ENV=production/,
    );
  });
});
