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
    expect(config.redisUrl).toBe('redis://localhost:6379');
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
  ])('rejects %s=%s naming the variable', (variable, value) => {
    expect(() => loadQueryConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadQueryConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}:`));
  });
});
