import { parseArgs } from 'node:util';
import {
  DeviceKeyStore,
  connectWithin,
  createAccessKeys,
  createRedisClient,
  parseSources,
  type Env,
  type RedisTarget,
} from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import { loadIngestConfig } from './config';

const USAGE = `Usage: keys-cli <command>
  add --id <keyId> [--sources a,b]   create a device key for the given sources (default: * for any)
                                     and print its token; it is shown this once only
  revoke --id <keyId>                delete a key; ingest refuses it within INGEST_AUTH_CACHE_MS
  list                               key ids, sources and creation times (never secrets)
Configured by the same environment as the ingest-api (REDIS_URL or REDIS_CLUSTER_NODES, INGEST_AUTH_KEY, ...).`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const CONNECT_WAIT_MS = 5_000;

/** Where the tool connects, without the credentials a URL may carry. */
function redisHosts(target: RedisTarget): string {
  const urls = 'url' in target ? [target.url] : target.clusterNodes;
  return urls.map((url) => new URL(url).host).join(', ');
}

/** Runs one command and resolves to the process exit code. */
export async function runKeysCli(argv: readonly string[], env: Env, output: CliOutput): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { id: { type: 'string' }, sources: { type: 'string' } },
    });
  } catch (error) {
    output.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...extra] = parsed.positionals;
  const { id, sources } = parsed.values;
  if (
    !['add', 'revoke', 'list'].includes(command ?? '') ||
    extra.length > 0 ||
    (command !== 'list' && id === undefined)
  ) {
    output.err(USAGE);
    return 2;
  }
  const config = loadIngestConfig(env);
  const redis = createRedisClient(config.redis, {
    name: 'ingest-keys-cli',
    logger: createLogger('keys-cli', 'silent'),
  });
  try {
    if (!(await connectWithin(redis, CONNECT_WAIT_MS))) {
      output.err(`Redis at ${redisHosts(config.redis)} did not answer within ${CONNECT_WAIT_MS} ms`);
      return 1;
    }
    const store = new DeviceKeyStore(redis, createAccessKeys(config.accessKeys));
    if (command === 'add') {
      output.out(await store.add(id!, parseSources(sources ?? '*')));
    } else if (command === 'revoke') {
      if (!(await store.revoke(id!))) {
        output.err(`no device key ${id}`);
        return 1;
      }
      output.out(`revoked ${id}; ingest refuses it within ${config.authCacheMs} ms`);
    } else {
      for (const key of await store.list()) output.out(`${key.keyId}\t${key.sources.join(',')}\t${key.createdAt}`);
    }
    return 0;
  } catch (error) {
    output.err((error as Error).message);
    return 1;
  } finally {
    redis.destroy();
  }
}

if (require.main === module) {
  runKeysCli(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
