import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { freePort, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import type { RunningIngestApi } from '../../apps/ingest-api/src/server';
import { eventually, pipelineEnv, startIngestApi } from './support';

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

describe('a Redis that cannot write its disk (MISCONF)', () => {
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
      expect((await postEvent(api)).status).toBe(202);

      // A data directory that is gone: the snapshot cannot be written (chmod would not stop a root Redis).
      const doomed = mkdtempSync(join(tmpdir(), 'redis-ingest-misconf-'));
      await admin.configSet('dir', doomed);
      rmSync(doomed, { recursive: true, force: true });
      await admin.bgSave().catch(() => undefined);
      await eventually(
        async () => (await admin.info('persistence')).includes('rdb_last_bgsave_status:err'),
        10_000,
        'the snapshot to fail',
      );

      const refused = await postEvent(api);
      expect(refused).toMatchObject({
        status: 503,
        retryAfter: '10',
        body: { redisError: 'misconf', appended: 'none' },
      });

      const writable = mkdtempSync(join(tmpdir(), 'redis-ingest-misconf-'));
      dirs.push(writable);
      await admin.configSet('dir', writable);
      await admin.bgSave();
      await eventually(
        async () => (await postEvent(api!)).status === 202,
        10_000,
        'ingest to take events once a snapshot succeeded',
      );
    } finally {
      admin.destroy();
    }
  }, 30_000);
});

describe('a Redis loading a large dataset at start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-ingest-loading-'));
  let api: RunningIngestApi | undefined;
  let stopServer = async () => undefined as void;
  afterAll(async () => {
    await api?.stop();
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not ready and answers 503 while Redis loads, then ready and taking events, without a restart', async () => {
    const port = await freePort();
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--enable-debug-command',
      'yes',
    ];
    const seed = spawn('redis-server', args, { stdio: 'ignore' });
    const url = `redis://127.0.0.1:${port}`;
    const admin = createClient({ url });
    // SHUTDOWN below closes the connection under it.
    admin.on('error', () => undefined);
    await eventually(async () => (await admin.connect(), true), 10_000, 'the seeding server');
    await admin.sendCommand(['DEBUG', 'POPULATE', '100000', 'loading', '100']);
    await admin.sendCommand(['SAVE']);
    await admin.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
    admin.destroy();
    await new Promise((resolve) => seed.once('exit', resolve));

    // key-load-delay slows loading down to a few seconds, long enough to watch.
    const loading = spawn('redis-server', [...args, '--key-load-delay', '10'], { stdio: 'ignore' });
    stopServer = async () => {
      loading.kill('SIGKILL');
      await new Promise((resolve) => loading.once('exit', resolve));
    };
    api = await startIngestApi(pipelineEnv(url));
    const base = `http://127.0.0.1:${api.port}`;
    // node-redis cannot finish its handshake while Redis loads, so the client reads as offline until then.
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    const refused = await postEvent(api);
    expect(refused).toMatchObject({
      status: 503,
      retryAfter: expect.stringMatching(/^\d+$/),
      body: { appended: 'none' },
    });
    expect(['loading', 'connection']).toContain(refused.body.redisError);

    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 60_000, 'readiness once loaded');
    expect((await postEvent(api)).status).toBe(202);
  }, 90_000);
});
