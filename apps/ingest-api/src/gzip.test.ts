import { gzipSync } from 'node:zlib';
import { createClient } from '@redis/client';
import { isolatedEnv, refusalOf, testRedisUrl } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from './config';
import { start, type RunningIngestApi } from './server';

describe('ingest-api with Content-Encoding: gzip', () => {
  const redis = createClient({ url: testRedisUrl() });
  let config: IngestConfig;
  let api: RunningIngestApi;

  beforeAll(() => redis.connect());
  afterAll(() => redis.destroy());
  beforeEach(async () => {
    config = loadIngestConfig(
      isolatedEnv(testRedisUrl(), {
        INGEST_API_PORT: '0',
        INGEST_API_HOST: '127.0.0.1',
        INGEST_BODY_LIMIT_BYTES: '4096',
      }),
    );
    api = await start(config);
  });
  afterEach(() => api.stop());

  const post = (body: Uint8Array, contentType: string, encoding = 'gzip') =>
    fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'content-encoding': encoding },
      body: new Uint8Array(body),
    });
  const ndjson = (count: number) =>
    Array.from({ length: count }, (_, n) => JSON.stringify({ source: 's', metric: 'm', value: n })).join('\n');

  it('inflates gzipped NDJSON and JSON batches', async () => {
    const lines = await post(gzipSync(ndjson(3)), 'application/x-ndjson');
    expect(lines.status).toBe(202);
    expect(await lines.json()).toMatchObject({ accepted: 3 });
    const array = await post(gzipSync(JSON.stringify([{ source: 's', metric: 'm', value: 9 }])), 'application/json');
    expect(array.status).toBe(202);
    expect(await redis.xLen(config.keys.streamKey)).toBe(4);
  });

  it('applies the body limit to the inflated size: a small gzip of a large body is a 413', async () => {
    const inflated = ndjson(200);
    const compressed = gzipSync(inflated);
    expect(compressed.length).toBeLessThan(4096);
    expect(inflated.length).toBeGreaterThan(4096);
    expect(await refusalOf(await post(compressed, 'application/x-ndjson'))).toEqual({
      status: 413,
      json: true,
      namesError: true,
    });
    // A bomb: a megabyte of zeros in about a kilobyte.
    const bomb = gzipSync(Buffer.alloc(1 << 20, '0'));
    expect(await refusalOf(await post(bomb, 'application/json'))).toEqual({
      status: 413,
      json: true,
      namesError: true,
    });
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });

  it('answers a corrupt gzip with 400 and an unknown encoding with 415, as JSON', async () => {
    expect(await refusalOf(await post(Buffer.from('not gzip at all'), 'application/json'))).toEqual({
      status: 400,
      json: true,
      namesError: true,
    });
    expect(await refusalOf(await post(Buffer.from(ndjson(1)), 'application/x-ndjson', 'compress'))).toEqual({
      status: 415,
      json: true,
      namesError: true,
    });
    expect(await redis.exists(config.keys.streamKey)).toBe(0);
  });
});
