import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectAsync, type MqttClient } from 'mqtt';
import { createClient } from '@redis/client';
import { eventFields } from '@redis-ingest/redis-schema';
import { eventually, isolatedEnv, startMosquitto, testRedisUrl, type MosquittoBroker } from '@redis-ingest/test-utils';

/** Built by the root `pnpm test`, which runs every workspace's build before jest. */
const MAIN_JS = join(__dirname, '..', 'dist', 'main.js');

interface Launched {
  readonly child: ChildProcess;
  /** Resolves with the first log line whose msg is `msg`. */
  logged(msg: string): Promise<Record<string, unknown>>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(env: Record<string, string>): Launched {
  const child = spawn(process.execPath, [MAIN_JS], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiting: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const waiter of waiting.filter(({ msg }) => msg === line.msg)) waiter.resolve(line);
  });
  const logged = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) resolve(seen);
      else waiting.push({ msg, resolve });
    });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, logged, exit };
}

describe('node apps/mqtt-bridge/dist/main.js', () => {
  const redis = createClient({ url: testRedisUrl() });
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build the workspaces first (pnpm test does)`);
    await redis.connect();
    broker = await startMosquitto();
    publisher = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'main-test-publisher' });
  });
  afterEach(() => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await publisher.endAsync();
    await broker.stop();
    await redis.close();
  });

  function bridgeEnv(name: string): Record<string, string> {
    return isolatedEnv(testRedisUrl(), {
      LOG_LEVEL: 'info',
      MQTT_URL: broker.url,
      MQTT_TOPICS: `${name}/+/+`,
      MQTT_CLIENT_ID: `bridge-${name}`,
      BRIDGE_PORT: '0',
    });
  }

  function started(env: Record<string, string>): Launched {
    const launched = launch(env);
    children.push(launched.child);
    return launched;
  }

  it('serves its probes and exits 0 on SIGTERM', async () => {
    const env = bridgeEnv('sigterm');
    const bridge = started(env);
    const line = await bridge.logged('mqtt bridge started');
    const health = await fetch(`http://127.0.0.1:${line.port as number}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', clientId: 'bridge-sigterm' });
    await publisher.publishAsync('sigterm/s/m', '1', { qos: 1 });
    await eventually(async () => (await redis.xLen(env.INGEST_STREAM_KEY!)) === 1, 10_000, 'the event appended');
    bridge.child.kill('SIGTERM');
    expect(await bridge.exit).toEqual({ code: 0, signal: null });
  });

  it('loses nothing and appends nothing twice when SIGKILLed in the middle of a QoS 1 stream', async () => {
    const env = bridgeEnv('killed');
    const total = 2_000;
    const first = started(env);
    await first.logged('mqtt bridge started');
    const publishing = Promise.all(
      Array.from({ length: total }, (_, i) => publisher.publishAsync('killed/src/m', String(i), { qos: 1 })),
    );
    await eventually(
      async () => (await redis.xLen(env.INGEST_STREAM_KEY!)) >= total / 10,
      20_000,
      'a tenth of the stream appended',
    );
    first.child.kill('SIGKILL');
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = await redis.xLen(env.INGEST_STREAM_KEY!);
    await publishing;

    const second = started(env);
    await second.logged('mqtt bridge started');
    await eventually(async () => (await redis.xLen(env.INGEST_STREAM_KEY!)) >= total, 30_000, 'every event appended');
    // The broker sends again whatever the first process had not acknowledged, some of it already appended.
    // This marker queues behind those resends; once it is dead-lettered, every one of them has been handled.
    await publisher.publishAsync('killed/src/m', 'end', { qos: 1 });
    await eventually(
      async () => (await redis.xLen(env.INGEST_DEAD_LETTER_KEY!)) === 1,
      10_000,
      'the marker behind the stream',
    );
    const values = (await redis.xRange(env.INGEST_STREAM_KEY!, '-', '+')).map(({ message }) =>
      Number(eventFields(message).value),
    );
    expect(killedAt).toBeLessThan(total);
    expect(values).toHaveLength(total);
    expect(new Set(values)).toEqual(new Set(Array.from({ length: total }, (_, i) => i)));
    second.child.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
  }, 90_000);
});
