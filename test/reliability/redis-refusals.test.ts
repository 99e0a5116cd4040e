import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@redis/client';
import { freePort, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { loadIngestConfig } from '../../apps/ingest-api/src/config';
import type { RunningIngestApi } from '../../apps/ingest-api/src/server';
import { eventually, pipelineEnv, spawnRedis, startIngestApi } from './support';

const event = { source: 'refusals', metric: 'm', value: 1 };

async function postEvent(api: RunningIngestApi) {
  const response = await fetch(`http://127.0.0.1:${api.port}/api/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/**
 * Makes Redis refuse writes with MISCONF, checks ingest answers 503 for it (nothing appended), then
 * lets Redis write again and waits for a 2xx, without restarting anything. Answers the ids of every
 * event answered 2xx meanwhile.
 */
async function refuseThenRecover(api: RunningIngestApi, refuse: () => Promise<void>, recover: () => Promise<void>) {
  const accepted: string[] = [];
  const post = async () => {
    const answer = await postEvent(api);
    if (answer.status === 202) accepted.push(answer.body.id as string);
    return answer;
  };
  expect((await post()).status).toBe(202);
  await refuse();
  // Redis flags the failed write after answering the command that made it, so one more may pass.
  let refused: Awaited<ReturnType<typeof postEvent>> | undefined;
  await eventually(async () => (refused = await post()).status !== 202, 10_000, 'ingest to refuse the writes');
  expect(refused).toMatchObject({ status: 503, retryAfter: '10', body: { redisError: 'misconf', appended: 'none' } });
  expect((await post()).status).toBe(503);

  await recover();
  await eventually(async () => (await post()).status === 202, 10_000, 'ingest to take events once Redis writes again');
  return accepted;
}

/**
 * A throwaway data directory, and the ingest-api and private Redis a suite starts on it, all taken
 * down after the suite.
 */
function privateServerSuite(prefix: string) {
  const suite = {
    dir: mkdtempSync(join(tmpdir(), prefix)),
    api: undefined as RunningIngestApi | undefined,
    stopServer: async () => undefined as void,
  };
  afterAll(async () => {
    await suite.api?.stop();
    await suite.stopServer();
    rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

describe('a Redis that cannot append to its AOF (MISCONF)', () => {
  const suite = privateServerSuite('redis-ingest-aof-');

  it('answers 503 with Retry-After while AOF writes fail, 2xx again once they succeed, unrestarted, and keeps every event it took', async () => {
    const redis = spawnRedis(await freePort(), ['--dir', suite.dir, '--appendonly', 'yes'], {
      ignoreFileSizeSignal: true,
    });
    suite.stopServer = redis.stop;
    const admin = createClient({ url: redis.url });
    await eventually(async () => (await admin.connect(), true), 10_000, 'the AOF server');
    const env = pipelineEnv(redis.url);
    try {
      const api = await startIngestApi(env);
      suite.api = api;
      // The soft file-size limit of the running Redis: at 1 byte every append to the AOF fails, as on
      // a full disk (a root Redis writes through chmod), and raising it again is all recovery takes.
      const limitFileSize = (soft: string) =>
        promisify(execFile)('prlimit', ['--pid', String(redis.pid), `--fsize=${soft}:unlimited`]).then(() => undefined);
      const accepted = await refuseThenRecover(
        api,
        () => limitFileSize('1'),
        () => limitFileSize('unlimited'),
      );
      expect((await admin.info('persistence')).includes('aof_last_write_status:ok')).toBe(true);

      const stored = new Set((await admin.xRange(loadIngestConfig(env).keys.streamKey, '-', '+')).map(({ id }) => id));
      expect(accepted.length).toBeGreaterThanOrEqual(2);
      expect(accepted.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      admin.destroy();
    }
  }, 30_000);
});

describe('a Redis that cannot write its snapshot (MISCONF)', () => {
  let server: RedisServer;
  let api: RunningIngestApi | undefined;
  const dirs: string[] = [];
  afterAll(async () => {
    await api?.stop();
    await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while snapshots fail, and 2xx again once one succeeds, without a restart', async () => {
    server = await startRedisServer({
      args: ['--save', '3600 1', '--stop-writes-on-bgsave-error', 'yes', '--enable-protected-configs', 'yes'],
    });
    const admin = createClient({ url: server.url });
    await admin.connect();
    try {
      api = await startIngestApi(pipelineEnv(server.url));
      await refuseThenRecover(
        api,
        async () => {
          // A data directory that is gone: the snapshot cannot be written.
          const doomed = mkdtempSync(join(tmpdir(), 'redis-ingest-misconf-'));
          await admin.configSet('dir', doomed);
          rmSync(doomed, { recursive: true, force: true });
          await admin.bgSave().catch(() => undefined);
          await eventually(
            async () => (await admin.info('persistence')).includes('rdb_last_bgsave_status:err'),
            10_000,
            'the snapshot to fail',
          );
        },
        async () => {
          const writable = mkdtempSync(join(tmpdir(), 'redis-ingest-misconf-'));
          dirs.push(writable);
          await admin.configSet('dir', writable);
          await admin.bgSave();
        },
      );
    } finally {
      admin.destroy();
    }
  }, 30_000);
});

describe('a Redis loading a large dataset at start-up', () => {
  const suite = privateServerSuite('redis-ingest-loading-');

  it('is not ready and answers 503 naming the loading while Redis loads, then ready and taking events, without a restart', async () => {
    const port = await freePort();
    const args = ['--dir', suite.dir, '--appendonly', 'no', '--enable-debug-command', 'yes'];
    const seed = spawnRedis(port, args);
    const admin = createClient({ url: seed.url });
    // SHUTDOWN below closes the connection under it.
    admin.on('error', () => undefined);
    await eventually(async () => (await admin.connect(), true), 10_000, 'the seeding server');
    await admin.sendCommand(['DEBUG', 'POPULATE', '3000', 'loading', '100']);
    await admin.sendCommand(['SAVE']);
    await admin.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
    admin.destroy();
    await seed.exited;

    // key-load-delay (a millisecond a key, long enough for a sleep to be that long on a busy machine)
    // stretches loading to seconds, long enough to watch. Redis answers clients between chunks of
    // the file it loads: at full speed a chunk of the default 2 MB takes milliseconds; stretched, a
    // chunk shrinks with the speed.
    const loading = spawnRedis(port, [
      ...args,
      '--key-load-delay',
      '1000',
      '--loading-process-events-interval-bytes',
      '1024',
    ]);
    suite.stopServer = loading.stop;
    const api = await startIngestApi(pipelineEnv(loading.url));
    suite.api = api;
    const base = `http://127.0.0.1:${api.port}`;
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ redisError: 'loading' });
    expect(await postEvent(api)).toMatchObject({
      status: 503,
      retryAfter: '5',
      body: { redisError: 'loading', appended: 'none' },
    });

    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 60_000, 'readiness once loaded');
    expect((await postEvent(api)).status).toBe(202);
  }, 90_000);
});
