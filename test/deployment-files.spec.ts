import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadIngestConfig } from '../apps/ingest-api/src/config';
import { loadBridgeConfig } from '../apps/mqtt-bridge/src/config';
import { loadQueryConfig } from '../apps/query-api/src/config';
import { loadWorkerConfig } from '../apps/worker/src/config';
import { SERVICE_NODE_OPTIONS } from '../packages/service-kit/src/process';

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

/** The value an operator sets for each variable compose requires (`${VAR:?message}` or `${VAR}`). */
const STAND_IN = 'token-'.repeat(4);

/** What compose makes of a value: `${VAR:-default}` its default, any other variable the stand-in. */
function interpolate(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+(:\?[^}]*)?\}/g, STAND_IN);
}

function withVariables(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, interpolate(String(value))]));
}

/** The services the `cluster` profile runs again on the Redis Cluster. */
const pipelineLoaders = { 'ingest-api': loadIngestConfig, worker: loadWorkerConfig, 'query-api': loadQueryConfig };
const loaders = { ...pipelineLoaders, 'mqtt-bridge': loadBridgeConfig };
const ports = {
  'ingest-api': 'INGEST_API_PORT',
  worker: 'WORKER_ADMIN_PORT',
  'query-api': 'QUERY_API_PORT',
  'mqtt-bridge': 'BRIDGE_PORT',
} as const;

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

/** A healthcheck that fails unless Redis answers PONG to the password the service runs with. */
function expectAuthenticatedHealthcheck(service: {
  healthcheck: { test: string[] };
  environment: Record<string, string>;
}): void {
  expect(service.healthcheck.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
  expect(service.environment.REDISCLI_AUTH).toMatch(/^\$\{REDIS_PASSWORD:\?/);
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  const variables = variablesReadBySources();

  it('runs Redis 8 with AOF persistence, a password and a healthcheck that sends it', () => {
    const redis = compose.services.redis;
    expect(redis.image).toBe('redis:8');
    expect(redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.command.join(' ')).toMatch(/--requirepass \$\{REDIS_PASSWORD:\?/);
    expectAuthenticatedHealthcheck(redis);
  });

  it('publishes no Redis port, and the opt-in override only on the loopback interface', () => {
    for (const service of Object.values(compose.services as Record<string, { image?: string; ports?: string[] }>)) {
      if (service.image?.startsWith('redis:')) expect(service.ports).toBeUndefined();
    }
    const override = parse(read('docker-compose.redis-port.yml'));
    expect(Object.keys(override.services)).toEqual(['redis']);
    expect(override.services.redis.ports.map(interpolate)).toEqual(['127.0.0.1:6380:6379']);
  });

  it('runs every service of this repository from one image, built once', () => {
    const ours = Object.entries(
      compose.services as Record<string, { image?: string; build?: unknown; command?: string[] }>,
    ).filter(([, service]) => service.command?.[0] === 'node');
    expect(ours.length).toBeGreaterThanOrEqual(6);
    for (const [, service] of ours)
      expect({ image: service.image, build: service.build }).toEqual({ image: 'redis-ingest:local', build: '.' });
    expect(read('docker-compose.yml').match(/^\s+image: redis-ingest:local$/gm)).toHaveLength(1);
  });

  it('gives every long-running service a healthcheck', () => {
    const running = Object.entries(
      compose.services as Record<string, { restart?: string; healthcheck?: { test: string[] } }>,
    ).filter(([, service]) => service.restart !== 'no');
    expect(running.filter(([, service]) => !service.healthcheck?.test?.length).map(([name]) => name)).toEqual([]);
  });

  it.each(Object.entries(loaders))('runs %s from its build with a valid environment', (name, load) => {
    const service = compose.services[name];
    expect(service.command).toEqual(['node', `apps/${name}/dist/main.js`]);
    expect(service.depends_on.redis.condition).toBe('service_healthy');
    for (const variable of Object.keys(service.environment)) expect(variables).toContain(variable);
    // The image sets NODE_ENV=production, where missing tokens stop a service.
    const config = load({ ...withVariables(service.environment), NODE_ENV: 'production' });
    expect(config.redis).toEqual({ url: `redis://:${STAND_IN}@redis:6379` });
    expect(service.environment.REDIS_URL).toBe('redis://:${REDIS_PASSWORD}@redis:6379');
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
    const profiles = Object.entries(compose.services as Record<string, { profiles?: string[] }>).map(
      ([name, service]) => [name, service.profiles] as const,
    );
    expect(
      profiles
        .filter(([, profile]) => profile === undefined)
        .map(([name]) => name)
        .sort(),
    ).toEqual(['ingest-api', 'query-api', 'redis', 'worker']);
    const others = profiles.filter(([, profile]) => profile !== undefined);
    expect(others.filter(([, profile]) => !['cluster', 'mqtt'].includes(profile!.join()))).toEqual([]);
    expect(
      others
        .filter(([, profile]) => profile!.join() === 'mqtt')
        .map(([name]) => name)
        .sort(),
    ).toEqual(['mosquitto', 'mqtt-bridge']);
    const cluster = profiles.filter(([, profile]) => profile?.join() === 'cluster').map(([name]) => name);
    expect(cluster.sort()).toEqual(
      [
        ...[1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`),
        'redis-cluster-init',
        'ingest-api-cluster',
        'worker-cluster',
        'query-api-cluster',
      ].sort(),
    );
  });
});

describe('docker-compose.yml, profile `cluster`', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true });
  const variables = variablesReadBySources();
  const nodeNames = [1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`);
  const nodes = nodeNames.map((name) => compose.services[name]);

  it('runs six cluster-enabled Redis 8 nodes with AOF and a password, each on a volume of its own, with a healthcheck', () => {
    const volumes = new Set<string>();
    for (const node of nodes) {
      expect(node.image).toBe('redis:8');
      const command = node.command.join(' ');
      expect(command).toMatch(/--cluster-enabled yes/);
      expect(command).toMatch(/--appendonly yes/);
      // One shard failing over must not take the other partitions down.
      expect(command).toMatch(/--cluster-require-full-coverage no/);
      // Replicas sync from their primary with the same password.
      expect(command).toMatch(/--requirepass \$\{REDIS_PASSWORD:\?.* --masterauth \$\{REDIS_PASSWORD:\?/);
      expectAuthenticatedHealthcheck(node);
      expect(node.ports).toBeUndefined();
      volumes.add(node.volumes[0]);
    }
    expect([...volumes].map((volume) => volume.replace(/:.*/, '')).sort()).toEqual(
      nodeNames.map((name) => `${name}-data`),
    );
    expect(Object.keys(compose.volumes)).toEqual(
      expect.arrayContaining([...volumes].map((volume) => volume.replace(/:.*/, ''))),
    );
  });

  it('gives each node a fixed address of the cluster network, outside the range of dynamic ones', () => {
    const network = compose.networks['redis-cluster'].ipam.config[0];
    const subnet = interpolate(network.subnet);
    const dynamic = interpolate(network.ip_range);
    expect(subnet).toMatch(/^(\d+\.\d+\.\d+)\.0\/24$/);
    const prefix = subnet.replace(/\.0\/24$/, '');
    expect(dynamic).toBe(`${prefix}.128/25`);
    const addresses = nodes.map((node) => interpolate(node.networks['redis-cluster'].ipv4_address));
    expect(new Set(addresses).size).toBe(nodes.length);
    for (const address of addresses) {
      expect(address.startsWith(`${prefix}.`)).toBe(true);
      expect(Number(address.split('.')[3])).toBeLessThan(128);
    }
  });

  it('forms or repairs the cluster once every node is healthy, through the tested script, with a bounded wait', () => {
    const init = compose.services['redis-cluster-init'];
    expect(init.image).toBe('redis:8');
    expect(init.restart).toBe('no');
    expect(Object.keys(init.depends_on).sort()).toEqual(nodeNames);
    expect(
      Object.values(init.depends_on).every(
        (dependency) => (dependency as { condition: string }).condition === 'service_healthy',
      ),
    ).toBe(true);
    expect(init.environment.REDISCLI_AUTH).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(init.networks).toEqual(['redis-cluster']);
    const [mount] = init.volumes as string[];
    const [source, target] = mount!.split(':');
    expect(source).toBe('./scripts/redis-cluster-init.sh');
    expect(existsSync(join(root, source!))).toBe(true);
    const [shell, script, ...args] = init.command as string[];
    expect([shell, script]).toEqual(['sh', target]);
    const option = (name: string) => args[args.indexOf(name) + 1];
    expect(option('--replicas')).toBe('1');
    // Long enough for six nodes to sync on a slow machine, short enough that `up` ends with a message.
    expect(Number(option('--timeout'))).toBeGreaterThanOrEqual(30);
    expect(Number(option('--timeout'))).toBeLessThanOrEqual(600);
    expect(args.filter((arg) => !arg.startsWith('--') && !/^\d+$/.test(arg))).toEqual(
      nodeNames.map((name) => `${name}:6379`),
    );
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
    expect(config.redis).toEqual({ clusterNodes: nodeNames.map((node) => `redis://:${STAND_IN}@${node}:6379`) });
    expect(service.networks).toEqual(['redis-cluster']);
    expect(config.keys).toMatchObject({ streamPartitions: 3, cluster: true });
    expect(service.environment.REDIS_URL).toBeUndefined();
    const port = String(service.environment[ports[name as keyof typeof ports]]);
    expect(service.healthcheck.test.join(' ')).toContain(`http://localhost:${port}/healthz`);
  });

  it('publishes the cluster stack’s API ports beside the single-node ones', () => {
    expect(compose.services['ingest-api-cluster'].ports).toEqual(['8090:8080']);
    expect(compose.services['query-api-cluster'].ports).toEqual(['8091:8081']);
    expect(compose.services['worker-cluster'].ports).toBeUndefined();
    const published = Object.values(compose.services).flatMap((service) =>
      ((service as { ports?: string[] }).ports ?? []).map((mapping) => mapping.split(':')[0]),
    );
    expect(new Set(published).size).toBe(published.length);
  });
});

describe('Dockerfile', () => {
  const stages = read('Dockerfile')
    .split(/^(?=FROM )/m)
    .filter((stage) => stage.startsWith('FROM '));
  const [build, runtime] = stages;
  const instructions = (stage: string) => stage.split('\n').filter((line) => /^[A-Z]+ /.test(line));

  it('builds in one stage and runs from a second that holds only what the build stage deployed', () => {
    expect(stages).toHaveLength(2);
    expect(build).toMatch(/^FROM node:20\S* AS build$/m);
    expect(runtime).toMatch(/^FROM node:20\S* AS runtime$/m);
    const copies = instructions(runtime!).filter((line) => line.startsWith('COPY '));
    expect(copies).toEqual(['COPY --from=build /prod/apps ./apps']);
    expect(runtime).not.toMatch(/pnpm|npm install|turbo/);
    expect(runtime).toMatch(/^ENV NODE_ENV=production$/m);
  });

  it('starts every service with the V8 settings scripts/start.js and the bench use', () => {
    expect(instructions(runtime!)).toContain(`ENV NODE_OPTIONS=${SERVICE_NODE_OPTIONS}`);
  });

  it('runs as the unprivileged node user', () => {
    expect(instructions(runtime!).at(-1)).toBe('USER node');
  });

  it('deploys every app under apps/ with its production dependencies only', () => {
    const deploy = instructions(build!).find((line) => line.includes(' deploy '));
    expect(deploy).toBe('RUN for app in apps/*/; do pnpm --filter "./$app" --prod deploy "/prod/$app"; done');
  });

  describe('its deploy step, run here', () => {
    let out: string;
    beforeAll(() => {
      out = mkdtempSync(join(tmpdir(), 'redis-ingest-deploy-'));
      const deploy = instructions(build!)
        .find((line) => line.includes(' deploy '))!
        .replace(/^RUN /, '');
      // The store already holds every package the lockfile names.
      const command = deploy
        .replaceAll('/prod/', `${out}/`)
        .replace('pnpm ', `${join(root, 'scripts', 'pnpm.sh')} --offline `);
      execFileSync('sh', ['-c', command], { cwd: root, stdio: 'pipe' });
    }, 120_000);
    afterAll(() => rmSync(out, { recursive: true, force: true }));

    const apps = readdirSync(join(root, 'apps'));
    const manifest = (path: string) =>
      JSON.parse(read(path)) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };

    it.each(apps)('gives %s its production dependencies and none of the workspace’s development ones', (app) => {
      const installed = (name: string) => existsSync(join(out, 'apps', app, 'node_modules', name));
      const { dependencies = {}, devDependencies = {} } = manifest(`apps/${app}/package.json`);
      expect(Object.keys(dependencies).filter((name) => !installed(name))).toEqual([]);
      const development = [
        ...Object.keys(devDependencies),
        ...Object.keys(manifest('package.json').devDependencies ?? {}),
      ].filter((name) => !(name in dependencies));
      expect(development.length).toBeGreaterThan(3);
      const store = readdirSync(join(out, 'apps', app, 'node_modules', '.pnpm'));
      // Only the store's copy counts for type packages: a runtime dependency may list one (mqtt's
      // @types/ws brings @types/node), which weighs kilobytes; tools linked into the app must not ship.
      const shipped = development.filter(
        (name) =>
          installed(name) ||
          (!name.startsWith('@types/') && store.some((entry) => entry.startsWith(`${name.replace('/', '+')}@`))),
      );
      expect(shipped).toEqual([]);
    });
  });
});
