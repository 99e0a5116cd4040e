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
      REDIS_CLUSTER_NODES: ' redis://node-a:7000, rediss://node-b:7001 ,',
    });
    expect(config.redis).toEqual({ clusterNodes: ['redis://node-a:7000', 'rediss://node-b:7001'] });
    expect(config.keys.cluster).toBe(true);
  });

  it('refuses cluster seeds that are not redis URLs, naming the variable', () => {
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: 'redis://a:7000,http://b:7001' })).toThrow(/^REDIS_CLUSTER_NODES: .*http:/);
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: 'node-a:7000' })).toThrow(/^REDIS_CLUSTER_NODES: /);
    expect(() => loadPipelineConfig({ REDIS_CLUSTER_NODES: ' , ' })).toThrow(/^REDIS_CLUSTER_NODES: expected at least one/);
  });

  it('reads INGEST_STREAM_PARTITIONS from 1 to 256', () => {
    expect(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '8' }).keys.streamPartitions).toBe(8);
    expect(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '256' }).keys.streamPartitions).toBe(256);
    expect(() => loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '0' })).toThrow(/^INGEST_STREAM_PARTITIONS: .*from 1 to 256/);
    expect(() => loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '257' })).toThrow(/^INGEST_STREAM_PARTITIONS: /);
  });

  it('gives the keys as many partitions as configured', () => {
    expect(createKeys(loadPipelineConfig({ INGEST_STREAM_PARTITIONS: '4' }).keys).partitions).toHaveLength(4);
  });
});
