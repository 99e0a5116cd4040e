import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineConfig } from './config';
import { createKeys } from './keys';

describe('loadPipelineConfig', () => {
  it('connects to REDIS_URL with one stream partition by default', () => {
    const config = loadPipelineConfig({ REDIS_URL: 'redis://redis.internal:6380' });
    expect(config.redis).toEqual({ url: 'redis://redis.internal:6380' });
    expect(config.keys).toMatchObject({ streamPartitions: 1, cluster: false });
    expect(loadPipelineConfig({}).redis).toEqual({ url: 'redis://localhost:6379' });
  });

  it('takes REDIS_CLUSTER_NODES over REDIS_URL and marks the keys as cluster keys', () => {
    const config = loadPipelineConfig({
      REDIS_URL: 'redis://ignored:6379',
      REDIS_CLUSTER_NODES: ' redis://node-a:7000, redis://node-b:7001 ,',
    });
    expect(config.redis).toEqual({ clusterNodes: ['redis://node-a:7000', 'redis://node-b:7001'] });
    expect(config.keys.cluster).toBe(true);
  });

  it('refuses cluster seeds that are not redis URLs, naming the variable', () => {
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: 'redis://a:7000,http://b:7001' })).toThrow(
      /^REDIS_CLUSTER_NODES: .*http:/,
    );
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: 'node-a:7000' })).toThrow(/^REDIS_CLUSTER_NODES: /);
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: ' , ' })).toThrow(
      /^REDIS_CLUSTER_NODES: expected at least one/,
    );
  });

  it('refuses cluster seeds that differ in scheme, user or password, which every discovered node is reached with', () => {
    for (const nodes of [
      'redis://a:7000,rediss://b:7001',
      'redis://u:p@a:7000,redis://b:7001',
      'redis://u:p@a:7000,redis://u:q@b:7001',
    ]) {
      expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: nodes })).toThrow(
        /^REDIS_CLUSTER_NODES: every seed must use the same scheme/,
      );
    }
    expect(loadPipelineConfig({ REDIS_CLUSTER_NODES: 'rediss://u:p@a:7000,rediss://u:p@b:7001' }).redis).toEqual({
      clusterNodes: ['rediss://u:p@a:7000', 'rediss://u:p@b:7001'],
    });
  });

  describe('TLS files', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'redis-ingest-config-'));
      for (const name of ['ca', 'cert', 'key']) writeFileSync(join(dir, `${name}.pem`), `${name} pem`);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the CA, the client certificate and its key for rediss://', () => {
      const files = {
        REDIS_TLS_CA_FILE: join(dir, 'ca.pem'),
        REDIS_TLS_CERT_FILE: join(dir, 'cert.pem'),
        REDIS_TLS_KEY_FILE: join(dir, 'key.pem'),
      };
      expect(loadPipelineConfig({ REDIS_URL: 'rediss://redis:6380', ...files }).redis).toEqual({
        url: 'rediss://redis:6380',
        tls: { ca: 'ca pem', cert: 'cert pem', key: 'key pem' },
      });
      expect(
        loadPipelineConfig({ REDIS_CLUSTER_NODES: 'rediss://a:7000', REDIS_TLS_CA_FILE: files.REDIS_TLS_CA_FILE })
          .redis,
      ).toEqual({
        clusterNodes: ['rediss://a:7000'],
        tls: { ca: 'ca pem' },
      });
    });

    it('refuses them without rediss://, unreadable, or a certificate without its key, naming the variable', () => {
      const ca = join(dir, 'ca.pem');
      expect(() => loadPipelineConfig({ REDIS_URL: 'redis://redis:6379', REDIS_TLS_CA_FILE: ca })).toThrow(
        /^REDIS_TLS_CA_FILE: takes effect only with rediss:\/\/ in REDIS_URL/,
      );
      expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: 'redis://a:7000', REDIS_TLS_CA_FILE: ca })).toThrow(
        /^REDIS_TLS_CA_FILE: .*REDIS_CLUSTER_NODES/,
      );
      expect(() =>
        loadPipelineConfig({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }),
      ).toThrow(/^REDIS_TLS_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/);
      expect(() =>
        loadPipelineConfig({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CERT_FILE: join(dir, 'cert.pem') }),
      ).toThrow(/^REDIS_TLS_KEY_FILE: /);
      expect(() =>
        loadPipelineConfig({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_KEY_FILE: join(dir, 'key.pem') }),
      ).toThrow(/^REDIS_TLS_CERT_FILE: /);
    });
  });

  it('reads INGEST_STREAM_PARTITIONS from 1 to 256', () => {
    expect(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '8' }).keys.streamPartitions).toBe(8);
    expect(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '256' }).keys.streamPartitions).toBe(256);
    expect(() => loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '0' })).toThrow(
      /^INGEST_STREAM_PARTITIONS: .*from 1 to 256/,
    );
    expect(() => loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '257' })).toThrow(/^INGEST_STREAM_PARTITIONS: /);
  });

  it('gives the keys as many partitions as configured', () => {
    expect(createKeys(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '4' }).keys).partitions).toHaveLength(4);
  });
});
