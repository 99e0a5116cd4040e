import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadIngestConfig } from '../apps/ingest-api/src/config';
import { loadBridgeConfig } from '../apps/mqtt-bridge/src/config';
import { loadQueryConfig } from '../apps/query-api/src/config';
import { loadWorkerConfig } from '../apps/worker/src/config';

const root = join(__dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Every variable name a config module passes to a read* helper. */
function variablesReadBySources(): Set<string> {
  const files = [
    'packages/redis-schema/src/config.ts',
    ...['ingest-api', 'worker', 'query-api', 'mqtt-bridge'].flatMap((app) =>
      readdirSync(join(root, 'apps', app, 'src'))
        .filter((file) => /config\.ts$/.test(file))
        .map((file) => `apps/${app}/src/${file}`),
    ),
  ];
  const names = new Set<string>();
  for (const file of files) {
    for (const match of read(file).matchAll(/read(?!HttpLimits)\w*\(\s*env,\s*'([A-Z0-9_]+)'/g)) names.add(match[1]!);
    for (const match of read(file).matchAll(/readHttpLimits\(\s*env,\s*'([A-Z]+)'\)/g)) {
      for (const suffix of ['HEADERS_TIMEOUT_MS', 'REQUEST_TIMEOUT_MS', 'KEEP_ALIVE_TIMEOUT_MS', 'MAX_HEADER_BYTES']) {
        names.add(`${match[1]}_${suffix}`);
      }
    }
  }
  return names;
}

function envExample(): Record<string, string> {
  const entries = read('.env.example')
    .split('\n')
    .map((line) => /^#?\s*([A-Z0-9_]+)=(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1]!, match[2]!] as const);
  return Object.fromEntries(entries);
}

/** What compose makes of `${VAR:?message}`: the value the operator set, here a stand-in token. */
function withVariables(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, String(value).replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'token-'.repeat(4))]),
  );
}

/** The services the `cluster` profile runs again on the Redis Cluster. */
const pipelineLoaders = { 'ingest-api': loadIngestConfig, worker: loadWorkerConfig, 'query-api': loadQueryConfig };
const loaders = { ...pipelineLoaders, 'mqtt-bridge': loadBridgeConfig };
const ports = { 'ingest-api': 'INGEST_API_PORT', worker: 'WORKER_ADMIN_PORT', 'query-api': 'QUERY_API_PORT', 'mqtt-bridge': 'BRIDGE_PORT' } as const;

describe('.env.example and the README', () => {
  const variables = variablesReadBySources();
  const example = envExample();

  it('finds the configuration modules', () => {
    expect(variables.size).toBeGreaterThan(20);
    expect(variables).toContain('REDIS_URL');
  });

  it('lists every variable the services read, and nothing else', () => {
    expect(Object.keys(example).sort()).toEqual([...variables].sort());
  });

  it('holds values every service accepts', () => {
    const values = Object.fromEntries(Object.entries(example).filter(([, value]) => value !== ''));
    for (const load of Object.values(loaders)) expect(() => load(values)).not.toThrow();
  });

  it('documents every variable in the README configuration table', () => {
    const readme = read('README.md');
    const missing = [...variables].filter((name) => !readme.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  const variables = variablesReadBySources();

  it('runs Redis 8 with AOF persistence and a healthcheck', () => {
    const redis = compose.services.redis;
    expect(redis.image).toBe('redis:8');
    expect(redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.healthcheck.test).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
  });

  it.each(Object.entries(loaders))('runs %s from its build with a valid environment', (name, load) => {
    const service = compose.services[name];
    expect(service.command).toEqual(['node', `apps/${name}/dist/main.js`]);
    expect(service.depends_on.redis.condition).toBe('service_healthy');
    for (const variable of Object.keys(service.environment)) expect(variables).toContain(variable);
    // The image sets NODE_ENV=production, where missing tokens stop a service.
    const config = load({ ...withVariables(service.environment), NODE_ENV: 'production' });
    expect(config.redis).toEqual({ url: 'redis://redis:6379' });
    const port = String(service.environment[ports[name as keyof typeof ports]]);
    expect(service.healthcheck.test.join(' ')).toContain(`http://localhost:${port}/healthz`);
  });

  it('makes compose refuse to start until the access tokens are set', () => {
    for (const name of ['QUERY_READ_TOKEN', 'QUERY_ADMIN_TOKEN', 'WORKER_ADMIN_TOKEN']) {
      expect(compose.services['query-api'].environment[name]).toMatch(new RegExp(`^\\$\\{${name}:\\?`));
    }
    expect(read('Dockerfile')).toMatch(/^ENV NODE_ENV=production$/m);
  });

  it('publishes the API ports and leaves the worker free to scale', () => {
    expect(compose.services['ingest-api'].ports).toEqual(['8080:8080']);
    expect(compose.services['query-api'].ports).toEqual(['8081:8081']);
    expect(compose.services.worker.ports).toBeUndefined();
  });

  it('starts the single-node stack without a profile and every other service only under `cluster` or `mqtt`', () => {
    const profiles = Object.entries(compose.services as Record<string, { profiles?: string[] }>).map(([name, service]) => [name, service.profiles] as const);
    expect(profiles.filter(([, profile]) => profile === undefined).map(([name]) => name).sort()).toEqual(['ingest-api', 'query-api', 'redis', 'worker']);
    const others = profiles.filter(([, profile]) => profile !== undefined);
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter(([, profile]) => !['cluster', 'mqtt'].includes(profile!.join()))).toEqual([]);
    expect(others.filter(([, profile]) => profile!.join() === 'mqtt').map(([name]) => name).sort()).toEqual(['mosquitto', 'mqtt-bridge']);
  });
});

describe('docker-compose.yml, profile `cluster`', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  const variables = variablesReadBySources();
  const nodeNames = [1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`);
  const nodes = nodeNames.map((name) => compose.services[name]);

  it('runs six cluster-enabled Redis 8 nodes with AOF, each on a volume of its own, with a healthcheck', () => {
    const volumes = new Set<string>();
    for (const node of nodes) {
      expect(node.image).toBe('redis:8');
      const command = node.command.join(' ');
      expect(command).toMatch(/--cluster-enabled yes/);
      expect(command).toMatch(/--appendonly yes/);
      // One shard failing over must not take the other partitions down.
      expect(command).toMatch(/--cluster-require-full-coverage no/);
      expect(node.healthcheck.test).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
      expect(node.ports).toBeUndefined();
      volumes.add(node.volumes[0]);
    }
    expect([...volumes].map((volume) => volume.replace(/:.*/, '')).sort()).toEqual(nodeNames.map((name) => `${name}-data`));
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining([...volumes].map((volume) => volume.replace(/:.*/, ''))));
  });

  it('creates the cluster once every node is healthy: three primaries with a replica each', () => {
    const init = compose.services['redis-cluster-init'];
    expect(init.image).toBe('redis:8');
    expect(init.restart).toBe('no');
    expect(Object.keys(init.depends_on).sort()).toEqual(nodeNames);
    expect(Object.values(init.depends_on).every((dependency) => (dependency as { condition: string }).condition === 'service_healthy')).toBe(true);
    const script = init.command.join(' ');
    expect(script).toMatch(/redis-cli --cluster create[\s\S]*--cluster-replicas 1 --cluster-yes/);
    for (const name of nodeNames) expect(script).toContain(name);
    // A second `up` finds the cluster in the nodes' nodes.conf and must not create it again.
    expect(script).toMatch(/if ! redis-cli .*cluster_slots_assigned:16384/);
  });

  it.each(Object.entries(pipelineLoaders))('runs %s on the cluster with three stream partitions', (name, load) => {
    const service = compose.services[`${name}-cluster`];
    const single = compose.services[name];
    expect(service.profiles).toEqual(['cluster']);
    expect(service.command).toEqual(single.command);
    expect(service.depends_on).toEqual({ 'redis-cluster-init': { condition: 'service_completed_successfully' } });
    for (const variable of Object.keys(service.environment)) expect(variables).toContain(variable);
    // The image sets NODE_ENV=production, where missing tokens stop a service.
    const config = load({ ...withVariables(service.environment), NODE_ENV: 'production' });
    expect(config.redis).toEqual({ clusterNodes: nodeNames.map((node) => `redis://${node}:6379`) });
    expect(config.keys).toMatchObject({ streamPartitions: 3, cluster: true });
    expect(service.environment.REDIS_URL).toBeUndefined();
    const port = String(service.environment[ports[name as keyof typeof ports]]);
    expect(service.healthcheck.test.join(' ')).toContain(`http://localhost:${port}/healthz`);
  });

  it('publishes the cluster stack’s API ports beside the single-node ones', () => {
    expect(compose.services['ingest-api-cluster'].ports).toEqual(['8090:8080']);
    expect(compose.services['query-api-cluster'].ports).toEqual(['8091:8081']);
    expect(compose.services['worker-cluster'].ports).toBeUndefined();
    const published = Object.values(compose.services).flatMap((service) => ((service as { ports?: string[] }).ports ?? []).map((mapping) => mapping.split(':')[0]));
    expect(new Set(published).size).toBe(published.length);
  });
});
