import { createClient } from '@redis/client';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { createRedisClient } from './redis';
import type { RedisClient } from './redis-client';
import { classifyRedisError } from './redis-errors';

const quiet = { warn: () => undefined };
const BIG = 'x'.repeat(512 * 1_024);

describe('createRedisClient with a command timeout and an in-flight bound', () => {
  let server: RedisServer;
  let admin: ReturnType<typeof createClient>;
  let client: RedisClient;

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
    admin = createClient({ url: server.url });
    await admin.connect();
  });
  afterEach(() => client.destroy());
  afterAll(async () => {
    admin.destroy();
    await server.stop();
  });

  /** Holds the server for `ms` (DEBUG SLEEP), and resolves once it has started holding it. */
  async function holdServer(ms: number): Promise<void> {
    void admin.sendCommand(['DEBUG', 'SLEEP', String(ms / 1_000)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  it('keeps working after commands timed out while queued behind a full socket', async () => {
    client = createRedisClient(server.url, { name: 'deadline-test', logger: quiet, commandTimeoutMs: 200 });
    await client.connect();
    await holdServer(1_000);
    // 100 MB cannot all go into the socket while the server sleeps: most wait unwritten, and time out there.
    const burst = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => client.sendCommand(['SET', `deadline:${i}`, BIG])),
    );
    expect(
      burst
        .filter((outcome) => outcome.status === 'rejected')
        .map((outcome) => classifyRedisError((outcome as PromiseRejectedResult).reason)),
    ).toContain('timeout');
    // The queued writes drain once the server is back; then every command is answered again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = Date.now();
    await expect(client.sendCommand(['PING'])).resolves.toBe('PONG');
    expect(Date.now() - after).toBeLessThan(5_000);
  }, 30_000);

  it('refuses commands past the bound at once, and takes them again as replies come in', async () => {
    client = createRedisClient(server.url, {
      name: 'in-flight-test',
      logger: quiet,
      commandTimeoutMs: 5_000,
      maxInFlight: 3,
    });
    await client.connect();
    await holdServer(300);
    const held = Array.from({ length: 3 }, () => client.sendCommand(['GET', 'in-flight']));
    const started = Date.now();
    const refused = await client.sendCommand(['GET', 'in-flight']).catch((error: unknown) => error);
    expect(classifyRedisError(refused)).toBe('overload');
    expect(Date.now() - started).toBeLessThan(100);
    // PING is never refused: readiness must show Redis, not this process's load.
    const ping = client.ping();
    await Promise.all(held);
    await expect(ping).resolves.toBe('PONG');
    await expect(client.sendCommand(['GET', 'in-flight'])).resolves.toBeNull();
  });
});
