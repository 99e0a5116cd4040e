import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { redisPipeline, startClusterNode, type RedisServer } from '@redis-ingest/test-utils';

const script = join(__dirname, '..', 'scripts', 'redis-cluster-init.sh');
const password = 'cluster-password-1';
const run = promisify(execFile);

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

/** Runs the init script as the compose service does, by host name, with the password in REDISCLI_AUTH. */
async function init(ports: readonly number[], ...options: string[]): Promise<Outcome> {
  const started = Date.now();
  const args = [...options, ...ports.map((port) => `localhost:${port}`)];
  try {
    const { stdout, stderr } = await run('sh', [script, ...args], { env: { ...process.env, REDISCLI_AUTH: password } });
    return { code: 0, stdout, stderr, elapsedMs: Date.now() - started };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr, elapsedMs: Date.now() - started };
  }
}

async function command(port: number, ...args: string[]): Promise<string> {
  const [, reply] = await redisPipeline(port, [['AUTH', password], args]);
  return String(reply);
}

const infoField = async (port: number, name: string) =>
  new RegExp(`^${name}:(.*)\\r?$`, 'm').exec(await command(port, 'CLUSTER', 'INFO'))?.[1];

describe('scripts/redis-cluster-init.sh', () => {
  let dir: string;
  let servers: RedisServer[] = [];
  const configFiles = [1, 2, 3, 4, 5, 6].map((n) => `nodes-${n}.conf`);
  let ids: string[];

  /** Six nodes on fresh ports, each on its own nodes.conf, which outlives the servers. */
  const startNodes = async () => {
    servers = await Promise.all(
      configFiles.map((file) => startClusterNode({ nodeTimeoutMs: 1_000, configFile: join(dir, file), password })),
    );
    return servers.map((server) => server.port);
  };
  const stopNodes = async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-ingest-cluster-init-'));
  });
  afterAll(async () => {
    await stopNodes();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a cluster of three primaries with a replica each the first time', async () => {
    const ports = await startNodes();
    const outcome = await init(ports, '--replicas', '1', '--timeout', '60');
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout).toMatch(/creating the cluster of 6 nodes/);
    for (const port of ports) {
      expect(await infoField(port, 'cluster_state')).toBe('ok');
      expect(await infoField(port, 'cluster_known_nodes')).toBe('6');
    }
    const roles = await Promise.all(
      ports.map(async (port) => (await redisPipeline(port, [['AUTH', password], ['ROLE']]))[1] as string[]),
    );
    expect(roles.filter(([role]) => role === 'master')).toHaveLength(3);
    ids = await Promise.all(ports.map((port) => command(port, 'CLUSTER', 'MYID')));
  }, 90_000);

  it('leaves a healthy cluster as it is', async () => {
    const outcome = await init(
      servers.map((server) => server.port),
      '--timeout',
      '30',
    );
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/the cluster exists/);
    expect(await Promise.all(servers.map((server) => command(server.port, 'CLUSTER', 'MYID')))).toEqual(ids);
  });

  it('repairs a cluster whose nodes came back on other addresses, and gives up in bounded time while it cannot', async () => {
    await stopNodes();
    const ports = await startNodes();
    // Each nodes.conf names its peers at the ports they had: nobody answers there.
    expect(await Promise.all(ports.map((port) => command(port, 'CLUSTER', 'MYID')))).toEqual(ids);

    // One node alone cannot reach the others, so its cluster never becomes healthy.
    const alone = await init([ports[0]!], '--timeout', '4');
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/gave up after 4s waiting for every node to report cluster_state:ok/);
    expect(alone.elapsedMs).toBeLessThan(15_000);

    const outcome = await init(ports, '--timeout', '60');
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout).toMatch(/every node meets every other at its current address/);
    for (const port of ports) {
      expect(await infoField(port, 'cluster_state')).toBe('ok');
      expect(await infoField(port, 'cluster_slots_assigned')).toBe('16384');
      const peers = (await command(port, 'CLUSTER', 'NODES')).trim().split('\n');
      expect(peers.map((line) => line.split(' ')[0]).sort()).toEqual([...ids].sort());
      expect(peers.map((line) => Number(/:(\d+)@/.exec(line)![1])).sort()).toEqual([...ports].sort());
    }
  }, 120_000);

  it('gives up with a message naming a node that never answers', async () => {
    const outcome = await init([servers[0]!.port, 1], '--timeout', '2');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/gave up after 2s waiting for localhost:1 to answer PING/);
    expect(outcome.elapsedMs).toBeLessThan(10_000);
  });
});
