import { request, Agent } from 'node:http';
import { createClient } from '@redis/client';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import {
  INGEST_MAIN,
  T0,
  eventually,
  killHard,
  pipelineEnv,
  postEvents,
  spawnService,
  telemetryEvent,
  type ServiceProcess,
} from './support';

const BATCH = 200;
/** Requests sent on a fixed schedule whatever the answers, as devices do: an open loop. */
const BURST_REQUESTS = 400;
const BURST_INTERVAL_MS = 5;

function batch(n: number): string {
  return JSON.stringify(Array.from({ length: BATCH }, (_, i) => telemetryEvent(`d${i % 20}`, n, T0 + n * BATCH + i)));
}

/** One POST; its status, or 0 when the connection ended without an answer. */
function send(port: number, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/ingest/events',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

describe('an ingest-api process under a burst Redis cannot take', () => {
  let server: RedisServer;
  let ingest: ServiceProcess | undefined;
  afterAll(async () => {
    if (ingest) await killHard(ingest);
    await server.stop();
  });

  it('sheds what it cannot take with 503, never 5xx otherwise or a dropped connection, and takes events again within seconds, unrestarted', async () => {
    server = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
    const env = pipelineEnv(server.url, {
      INGEST_MAX_BACKLOG: '0',
      INGEST_MAX_BATCH: String(BATCH),
      INGEST_REDIS_TIMEOUT_MS: '300',
      INGEST_MAX_IN_FLIGHT: '32',
    });
    ingest = spawnService(INGEST_MAIN, env, 'ingest-api listening');
    const { port } = (await ingest.started) as unknown as { port: number };
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const admin = createClient({ url: server.url });
    await admin.connect();
    try {
      expect((await postEvents(port, [telemetryEvent('before', 1, T0)])).status).toBe(202);
      // Redis stalls twice during the burst: commands pile up behind it, time out, and the excess is refused.
      const stalls = [300, 1_800].map((at) =>
        new Promise((resolve) => setTimeout(resolve, at)).then(() => admin.sendCommand(['DEBUG', 'SLEEP', '1'])),
      );
      const answers: Promise<number>[] = [];
      for (let n = 0; n < BURST_REQUESTS; n++) {
        answers.push(send(port, agent, batch(n)));
        await new Promise((resolve) => setTimeout(resolve, BURST_INTERVAL_MS));
      }
      const statuses = await Promise.all(answers);
      await Promise.all(stalls);
      const counts = statuses.reduce<Record<number, number>>(
        (tally, status) => ({ ...tally, [status]: (tally[status] ?? 0) + 1 }),
        {},
      );
      expect(counts[503]).toBeGreaterThan(0);
      expect(Object.keys(counts).filter((status) => status !== '202' && status !== '503')).toEqual([]);

      const endedAt = Date.now();
      await eventually(
        async () => (await postEvents(port, [telemetryEvent('after', 1, T0)])).status === 202,
        5_000,
        'ingest to take events again',
      );
      expect(Date.now() - endedAt).toBeLessThan(5_000);
      // Still taking every request, not a lucky one.
      for (let n = 0; n < 20; n++)
        expect((await postEvents(port, [telemetryEvent('after', n, T0 + n)])).status).toBe(202);
      expect(ingest.child.exitCode).toBeNull();
    } finally {
      agent.destroy();
      admin.destroy();
    }
  }, 60_000);
});
