import { createKeys, createRedisClient, type Keys, type RedisClient, eventFields } from '@redis-ingest/redis-schema';
import { isolatedEnv } from '@redis-ingest/test-utils';
import { loadIngestConfig, type IngestConfig } from '../../../../apps/ingest-api/src/config';
import { start, type RunningIngestApi } from '../../../../apps/ingest-api/src/server';

export interface IngestApiUnderTest {
  readonly api: RunningIngestApi;
  readonly config: IngestConfig;
  readonly keys: Keys;
  readonly url: string;
  readonly redis: RedisClient;
  stop(): Promise<void>;
}

/** The real ingest-api on its own keys of the Redis (or cluster) at `redisUrl`, with a client of its own to check the streams. */
export async function startIngestApi(redisUrl: string, env: Record<string, string> = {}): Promise<IngestApiUnderTest> {
  const config = loadIngestConfig(
    isolatedEnv(redisUrl, { INGEST_API_PORT: '0', INGEST_API_HOST: '127.0.0.1', ...env }),
  );
  const redis = createRedisClient(config.redis, {
    name: 'client-test',
    logger: { warn: () => undefined },
    commandTimeoutMs: 5_000,
  });
  await redis.connect();
  const api = await start(config);
  return {
    api,
    config,
    keys: createKeys(config.keys),
    url: `http://127.0.0.1:${api.port}`,
    redis,
    stop: async () => {
      await api.stop();
      redis.destroy();
    },
  };
}

const PAGE = 10_000;

/** The eventId of every entry in every partition of the stream. */
export async function eventIdsInStream({ redis, keys }: Pick<IngestApiUnderTest, 'redis' | 'keys'>): Promise<string[]> {
  const ids: string[] = [];
  for (const { stream } of keys.partitions) {
    for (let from = '-'; ;) {
      const entries = await redis.xRange(stream, from, '+', { COUNT: PAGE });
      ids.push(...entries.map(({ message }) => String(eventFields(message).eventId)));
      if (entries.length < PAGE) break;
      from = `(${entries[entries.length - 1]!.id}`;
    }
  }
  return ids;
}

/** How often each id occurs, for checking that every event is in the stream exactly once. */
export function occurrences(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}
