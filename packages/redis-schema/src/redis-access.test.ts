import {
  eventually,
  makeTlsFiles,
  startRedisCluster,
  startRedisServer,
  startTlsRedisServer,
  type RedisCluster,
  type RedisServer,
  type TlsFiles,
  type TlsRedisServer,
} from '@redis-ingest/test-utils';
import { loadPipelineConfig } from './config';
import type { Env } from './env';
import { createRedisClient } from './redis';
import type { RedisClient } from './redis-client';

/** A client as a service makes it from its environment, with the warnings it logs. */
function clientFrom(env: Env): { client: RedisClient; warnings: Error[] } {
  const warnings: Error[] = [];
  const logger = { warn: (object: object) => void warnings.push((object as { err: Error }).err) };
  const client = createRedisClient(loadPipelineConfig(env).redis, {
    name: 'access-test',
    logger,
    commandTimeoutMs: 2_000,
  });
  return { client, warnings };
}

const clients: RedisClient[] = [];
async function connected(env: Env): Promise<RedisClient> {
  const { client } = clientFrom(env);
  clients.push(client);
  await client.connect();
  return client;
}

/** Starts connecting and answers the first connection error, once it is clear the client did not get in. */
async function refusal(env: Env): Promise<Error> {
  const { client, warnings } = clientFrom(env);
  clients.push(client);
  void client.connect().catch(() => undefined);
  await eventually(async () => warnings.length > 0, 10_000, 'a connection error');
  await expect(client.ping()).rejects.toThrow();
  return warnings[0]!;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

describe('a password and an ACL user in the Redis URL', () => {
  let server: RedisServer;
  const admin = 'default-password-1';

  beforeAll(async () => {
    server = await startRedisServer({
      password: admin,
      args: ['--user', 'ingest', 'on', '>ingest-secret-1', '~telemetry:*', '+@all'],
    });
  });
  afterAll(() => server?.stop());

  it('authenticates as the default user with requirepass', async () => {
    const client = await connected({ REDIS_URL: `redis://:${admin}@127.0.0.1:${server.port}` });
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe('default');
  });

  it('authenticates as an ACL user, whose key patterns Redis then enforces', async () => {
    const client = await connected({ REDIS_URL: `redis://ingest:ingest-secret-1@127.0.0.1:${server.port}` });
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe('ingest');
    expect(await client.xAdd('telemetry:events', '*', { n: '1' })).toMatch(/^\d+-\d+$/);
    await expect(client.set('elsewhere', '1')).rejects.toThrow(/NOPERM/);
  });

  it('decodes percent-encoded characters of the password', async () => {
    const client = await connected({ REDIS_URL: `redis://ingest:ingest-secret-1@127.0.0.1:${server.port}` });
    await client.sendCommand(['ACL', 'SETUSER', 'odd', 'on', '>p@ss:w/rd', '+ACL']);
    const odd = await connected({
      REDIS_URL: `redis://odd:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${server.port}`,
    });
    expect(await odd.sendCommand(['ACL', 'WHOAMI'])).toBe('odd');
  });

  it('reports a wrong password or a missing one and does not get in', async () => {
    expect((await refusal({ REDIS_URL: `redis://ingest:wrong-secret@127.0.0.1:${server.port}` })).message).toMatch(
      /WRONGPASS/,
    );
    expect((await refusal({ REDIS_URL: `redis://127.0.0.1:${server.port}` })).message).toMatch(/NOAUTH/);
  });
});

describe('TLS with rediss://', () => {
  let files: TlsFiles;
  let server: TlsRedisServer;
  let mutual: TlsRedisServer;

  beforeAll(async () => {
    files = makeTlsFiles();
    [server, mutual] = await Promise.all([
      startTlsRedisServer(files, { password: 'tls-password-1' }),
      startTlsRedisServer(files, { requireClientCertificate: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), mutual?.stop()]);
    files?.remove();
  });

  const withPassword = (url: string) => url.replace('rediss://', 'rediss://:tls-password-1@');

  it('connects over TLS to a server whose certificate chains to REDIS_TLS_CA_FILE', async () => {
    const client = await connected({ REDIS_URL: withPassword(server.tlsUrl), REDIS_TLS_CA_FILE: files.caFile });
    expect(await client.ping()).toBe('PONG');
    expect(String(await client.sendCommand(['CLIENT', 'INFO']))).toMatch(
      new RegExp(`laddr=127\\.0\\.0\\.1:${server.tlsPort}\\b`),
    );
  });

  it('refuses a server certificate it cannot verify without the CA', async () => {
    const error = await refusal({ REDIS_URL: withPassword(server.tlsUrl) });
    expect(error.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });

  it('shows the client certificate from REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE to a server that requires one', async () => {
    const env = { REDIS_URL: mutual.tlsUrl, REDIS_TLS_CA_FILE: files.caFile };
    await refusal(env);
    const client = await connected({
      ...env,
      REDIS_TLS_CERT_FILE: files.clientCertFile,
      REDIS_TLS_KEY_FILE: files.clientKeyFile,
    });
    expect(await client.ping()).toBe('PONG');
  });
});

describe('credentials of Redis Cluster seeds', () => {
  let cluster: RedisCluster;
  // Keys on every primary: two of them are reached only through discovery.
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => `telemetry:{${name}}`);
  let owners: Set<number>;

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3 });
    // Asked before the nodes turn anonymous connections away, as the harness connects without a user.
    owners = new Set(await Promise.all(keys.map(async (key) => (await cluster.primaryFor(key)).port)));
    for (const node of cluster.nodes) {
      await node.command('ACL', 'SETUSER', 'ingest', 'on', '>cluster-secret-1', '~*', '+@all');
      await node.command('ACL', 'SETUSER', 'default', 'off');
    }
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('reach the nodes a single seed reveals with the seed’s user and password', async () => {
    const [seed] = cluster.nodes;
    const client = await connected({ REDIS_CLUSTER_NODES: `redis://ingest:cluster-secret-1@127.0.0.1:${seed!.port}` });
    expect(owners.size).toBe(3);
    for (const key of keys) await client.set(key, '1');
    expect(await Promise.all(keys.map((key) => client.exists(key)))).toEqual(keys.map(() => 1));
  });
});
