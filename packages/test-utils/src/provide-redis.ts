import { hasRedisServerBinary, startRedisServer } from './redis-server';

export interface ProvidedRedis {
  readonly url: string;
  readonly origin: 'REDIS_URL' | 'redis-server' | 'testcontainers';
  close(): Promise<void>;
}

/**
 * The Redis the integration suites share: REDIS_URL when set, else a private `redis-server`, else a
 * Redis 8 container when Docker is running. Suites isolate themselves with their own key names, so a
 * shared server is safe.
 */
export async function provideRedis(env: NodeJS.ProcessEnv = process.env): Promise<ProvidedRedis> {
  if (env.REDIS_URL) return { url: env.REDIS_URL, origin: 'REDIS_URL', close: async () => {} };
  if (hasRedisServerBinary()) {
    const server = await startRedisServer();
    return { url: server.url, origin: 'redis-server', close: () => server.stop() };
  }
  let containerError: unknown;
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:8')
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    return { url, origin: 'testcontainers', close: async () => void (await container.stop()) };
  } catch (error) {
    containerError = error;
  }
  throw new Error(
    'The integration tests need a Redis server and found none. Install redis-server ' +
      '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), start Docker, ' +
      `or set REDIS_URL to a Redis you can spare. (Docker said: ${(containerError as Error)?.message})`,
  );
}
