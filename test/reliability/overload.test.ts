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

const BATCH = 20;
const PROCESSES = 2;
/** Commands each process may have awaiting Redis; the rest are refused at once. */
const MAX_IN_FLIGHT = 4;
const TIMEOUT_MS = 500;
/**
 * Redis sleeps in these turns, back to back, for the whole burst, answering only in between: each
 * turn it serves at most MAX_IN_FLIGHT commands per process, so it takes at most
 * PROCESSES × MAX_IN_FLIGHT requests per 200 ms, 40 a second. Every fifth turn outlasts the command
 * timeout, so commands also time out while later ones wait behind them.
 */
const STALLS_S = ['0.2', '0.2', '0.2', '0.2', '0.7'];
const BURST_MS = 30_000;
/** Requests sent on a fixed schedule whatever the answers, as devices do (an open loop): 200 a second, five times what Redis takes. */
const SEND_INTERVAL_MS = 5;
/** After the burst, each process must answer 2xx within this long. */
const RECOVERY_MS = 5_000;

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

/** The sum of redis_errors_total of `kind` over every line of `metrics`. */
function redisErrors(metrics: string, kind: string): number {
  return [...metrics.matchAll(new RegExp(`^redis_errors_total\\{[^}]*kind="${kind}"[^}]*\\} (\\d+)$`, 'gm'))]
    .map((match) => Number(match[1]))
    .reduce((sum, count) => sum + count, 0);
}

describe('ingest-api processes under a 30 s open-loop burst Redis cannot take', () => {
  let server: RedisServer;
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    for (const one of processes) await killHard(one);
    await server.stop();
  });

  it('shed what they cannot take with 503, never 5xx otherwise or a dropped connection, and take events again within seconds, unrestarted', async () => {
    server = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
    const env = pipelineEnv(server.url, {
      INGEST_MAX_BACKLOG: '0',
      INGEST_MAX_BATCH: String(BATCH),
      INGEST_REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
      INGEST_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    });
    for (let i = 0; i < PROCESSES; i++) processes.push(spawnService(INGEST_MAIN, env, 'ingest-api listening'));
    const ports = await Promise.all(
      processes.map(async (one) => ((await one.started) as unknown as { port: number }).port),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 512 });
    const admin = createClient({ url: server.url });
    await admin.connect();
    try {
      for (const port of ports) expect((await postEvents(port, [telemetryEvent('before', 1, T0)])).status).toBe(202);

      let bursting = true;
      const stalls = (async () => {
        for (let turn = 0; bursting; turn++)
          await admin.sendCommand(['DEBUG', 'SLEEP', STALLS_S[turn % STALLS_S.length]!]);
      })();
      const answers: Promise<number>[] = [];
      const started = Date.now();
      // Catches up after a late timer, so the rate holds however busy the machine is.
      while (Date.now() - started < BURST_MS) {
        const due = Math.floor((Date.now() - started) / SEND_INTERVAL_MS);
        for (let n = answers.length; n <= due; n++) answers.push(send(ports[n % PROCESSES]!, agent, batch(n)));
        await new Promise((resolve) => setTimeout(resolve, SEND_INTERVAL_MS));
      }
      bursting = false;
      const endedAt = Date.now();
      await stalls;

      const recoveredIn = await Promise.all(
        ports.map(async (port) => {
          await eventually(
            async () => (await postEvents(port, [telemetryEvent('after', 1, T0)])).status === 202,
            RECOVERY_MS,
            `ingest-api on ${port} to take events again`,
          );
          return Date.now() - endedAt;
        }),
      );
      expect(Math.max(...recoveredIn)).toBeLessThan(RECOVERY_MS);
      // Still taking every request, not a lucky one.
      for (const port of ports)
        for (let n = 0; n < 20; n++)
          expect((await postEvents(port, [telemetryEvent('after', n, T0 + n)])).status).toBe(202);

      const statuses = await Promise.all(answers);
      const counts = statuses.reduce<Record<number, number>>(
        (tally, status) => ({ ...tally, [status]: (tally[status] ?? 0) + 1 }),
        {},
      );
      expect(statuses.length).toBeGreaterThan((BURST_MS / SEND_INTERVAL_MS) * 0.9);
      expect(Object.keys(counts).filter((status) => status !== '202' && status !== '503')).toEqual([]);
      // Over capacity all along: most requests were turned away, yet Redis took some in every stall cycle.
      expect(counts[503]).toBeGreaterThan(2 * (counts[202] ?? 0));
      expect(counts[202]).toBeGreaterThan(0);
      // Both ways of shedding happened: refused at once over the bound, and timed out behind a stall.
      const errors = (
        await Promise.all(ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))
      ).join('\n');
      for (const kind of ['overload', 'timeout']) expect(redisErrors(errors, kind)).toBeGreaterThan(0);
      for (const one of processes) expect(one.child.exitCode).toBeNull();
    } finally {
      agent.destroy();
      admin.destroy();
    }
  }, 90_000);
});
