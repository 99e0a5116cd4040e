import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadIngestConfig } from '../apps/ingest-api/src/config';
import { loadQueryConfig } from '../apps/query-api/src/config';
import { loadWorkerConfig } from '../apps/worker/src/config';

const root = join(__dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Every variable name a config module passes to a read* helper. */
function variablesReadBySources(): Set<string> {
  const files = [
    'packages/redis-schema/src/config.ts',
    ...['ingest-api', 'worker', 'query-api'].flatMap((app) =>
      readdirSync(join(root, 'apps', app, 'src'))
        .filter((file) => /config\.ts$/.test(file))
        .map((file) => `apps/${app}/src/${file}`),
    ),
  ];
  const names = new Set<string>();
  for (const file of files) {
    for (const match of read(file).matchAll(/read\w*\(\s*env,\s*'([A-Z0-9_]+)'/g)) names.add(match[1]!);
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

const loaders = { 'ingest-api': loadIngestConfig, worker: loadWorkerConfig, 'query-api': loadQueryConfig };
const ports = { 'ingest-api': 'INGEST_API_PORT', worker: 'WORKER_ADMIN_PORT', 'query-api': 'QUERY_API_PORT' } as const;

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
    const config = load(service.environment);
    expect(config.redisUrl).toBe('redis://redis:6379');
    const port = String(service.environment[ports[name as keyof typeof ports]]);
    expect(service.healthcheck.test.join(' ')).toContain(`http://localhost:${port}/healthz`);
  });

  it('publishes the API ports and leaves the worker free to scale', () => {
    expect(compose.services['ingest-api'].ports).toEqual(['8080:8080']);
    expect(compose.services['query-api'].ports).toEqual(['8081:8081']);
    expect(compose.services.worker.ports).toBeUndefined();
  });
});
