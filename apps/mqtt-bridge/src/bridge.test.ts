import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { createClient } from '@redis/client';
import { createRedisClient, parseDeadLetter, type RedisClient, eventFields } from '@redis-ingest/redis-schema';
import { createLogger } from '@redis-ingest/service-kit';
import {
  eventually,
  isolatedEnv,
  startMosquitto,
  startRedisServer,
  testRedisUrl,
  type MosquittoBroker,
} from '@redis-ingest/test-utils';
import { MqttBridge } from './bridge';
import { loadBridgeConfig, type BridgeConfig } from './config';
import { start, type RunningBridge } from './service';

const run = promisify(execFile);
const logger = createLogger('mqtt-bridge-test', 'silent');

/** Publishes through the command-line client, as a device script would. */
async function mosquittoPub(broker: MosquittoBroker, topic: string, payload: string, qos = 1): Promise<void> {
  await run('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-q',
    String(qos),
    '-t',
    topic,
    '-m',
    payload,
  ]);
}

describe('mqtt bridge', () => {
  const redis = createClient({ url: testRedisUrl() });
  let broker: MosquittoBroker;
  let publisher: MqttClient;
  const running: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    await redis.connect();
    broker = await startMosquitto();
    publisher = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'test-publisher' });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.close()));
  });
  afterAll(async () => {
    await publisher.endAsync();
    await broker.stop();
    await redis.close();
  });

  function bridgeEnv(overrides: Record<string, string> = {}): Record<string, string> {
    const env = isolatedEnv(testRedisUrl(), {
      MQTT_URL: broker.url,
      BRIDGE_PORT: '0',
      BRIDGE_RETRY_DELAY_MS: '50',
      ...overrides,
    });
    // Each test its own topics: a persistent session of an earlier test must not take this test's messages.
    const root = env.INGEST_STREAM_KEY!.replace(/[^A-Za-z0-9]/g, '');
    return { MQTT_TOPICS: `${root}/+/+`, MQTT_CLIENT_ID: `bridge-${root}`, ...env };
  }
  const configFor = (overrides: Record<string, string> = {}) => loadBridgeConfig(bridgeEnv(overrides));

  async function startBridge(config: BridgeConfig): Promise<RunningBridge> {
    const service = await start(config, logger);
    running.push(service);
    return service;
  }

  const topicRoot = (config: BridgeConfig) => config.topics[0]!.split('/')[0]!;
  const entries = async (config: BridgeConfig) =>
    (await redis.xRange(config.keys.streamKey, '-', '+')).map(({ message }) => eventFields(message));
  const deadLetters = async (config: BridgeConfig) =>
    (await redis.xRange(config.keys.deadLetterKey, '-', '+')).map(({ id, message }) => parseDeadLetter(id, message));

  it('appends a number, a JSON event and a batch, from mosquitto_pub and MQTT.js, at QoS 0 and 1', async () => {
    const config = configFor();
    const service = await startBridge(config);
    const root = topicRoot(config);
    await mosquittoPub(broker, `${root}/sensor-7/temperature`, '21.5');
    await mosquittoPub(broker, `${root}/sensor-7/humidity`, '40', 0);
    await publisher.publishAsync(
      `${root}/sensor-8/ignored`,
      JSON.stringify({ metric: 'rpm', value: 900, occurredAt: '2026-05-01T10:00:00Z', eventId: 'r-1' }),
      { qos: 1 },
    );
    await publisher.publishAsync(
      `${root}/sensor-9/load`,
      JSON.stringify([1, { value: 2, occurredAt: '2026-05-01T10:00:00Z' }]),
      { qos: 1 },
    );

    await eventually(async () => (await redis.xLen(config.keys.streamKey)) === 5, 10_000, 'five events');
    const stored = await entries(config);
    expect(stored).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          source: 'sensor-7',
          metric: 'temperature',
          value: '21.5',
          eventId: expect.stringMatching(/^mqtt-/),
        }),
        { source: 'sensor-7', metric: 'humidity', value: '40', occurredAt: expect.any(String) },
        { source: 'sensor-8', metric: 'rpm', value: '900', occurredAt: '2026-05-01T10:00:00.000Z', eventId: 'r-1' },
        expect.objectContaining({
          source: 'sensor-9',
          metric: 'load',
          value: '1',
          eventId: expect.stringMatching(/\.0$/),
        }),
        expect.objectContaining({
          source: 'sensor-9',
          metric: 'load',
          value: '2',
          occurredAt: '2026-05-01T10:00:00.000Z',
        }),
      ]),
    );
    const metrics = () => fetch(`http://127.0.0.1:${service.port}/metrics`).then((response) => response.text());
    // A message counts a moment after its append.
    await eventually(async () => /^bridge_messages_total 4$/m.test(await metrics()), 10_000, 'four messages counted');
    expect(await metrics()).toMatch(/^bridge_events_appended_total 5$/m);
    expect((await fetch(`http://127.0.0.1:${service.port}/readyz`)).status).toBe(200);
  });

  it('dead-letters bad payloads with topic and reason, acknowledges them and goes on', async () => {
    const config = configFor();
    await startBridge(config);
    const root = topicRoot(config);
    await mosquittoPub(broker, `${root}/sensor-1/temperature`, 'warm');
    await publisher.publishAsync(`${root}/sensor-1/temperature`, '[3, "x"]', { qos: 1 });
    await mosquittoPub(broker, `${root}/sensor-1/temperature`, '4');

    await eventually(
      async () =>
        (await redis.xLen(config.keys.streamKey)) === 2 && (await redis.xLen(config.keys.deadLetterKey)) === 2,
      10_000,
      'events and dead letters',
    );
    expect((await entries(config)).map(({ value }) => value)).toEqual(['3', '4']);
    expect(await deadLetters(config)).toEqual([
      expect.objectContaining({
        topic: `${root}/sensor-1/temperature`,
        reason: 'payload is neither a number nor JSON',
        payload: { payload: 'warm' },
        consumer: config.clientId,
        messageId: expect.stringMatching(/^\d+$/),
      }),
      expect.objectContaining({
        topic: `${root}/sensor-1/temperature`,
        reason: '[1] expected a number or a JSON event object',
        payload: { payload: '"x"', index: '1' },
      }),
    ]);
  });

  it('survives hostile payloads: oversized, invalid UTF-8, deeply nested, a huge batch, names unfit for keys', async () => {
    const config = configFor({ BRIDGE_MAX_PAYLOAD_BYTES: '65536', BRIDGE_MAX_BATCH: '100' });
    await startBridge(config);
    const root = topicRoot(config);
    const hostile: (string | Buffer)[] = [
      Buffer.alloc(200_000, '7'),
      Buffer.from([0xff, 0xfe, 0x00, 0x31]),
      `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
      JSON.stringify(Array.from({ length: 101 }, (_, i) => i)),
      JSON.stringify({ source: 'a{b}', value: 1 }),
      '{"value": 1, "__proto__": {"polluted": true}}',
    ];
    for (const payload of hostile) await publisher.publishAsync(`${root}/hostile/m`, payload, { qos: 1 });
    await publisher.publishAsync(`${root}/hostile/m`, '8', { qos: 1 });

    await eventually(
      async () => (await redis.xLen(config.keys.streamKey)) === 1,
      10_000,
      'the good message after the hostile ones',
    );
    const letters = await deadLetters(config);
    expect(letters.map(({ reason }) => reason)).toEqual([
      'payload of 200000 bytes is over the limit of 65536',
      'payload is neither a number nor JSON',
      'payload could not be read: Maximum call stack size exceeded',
      'batch of 101 events is over the limit of 100',
      expect.stringMatching(/^\/source: /),
      '/__proto__: Unexpected property',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await entries(config)).map(({ value }) => value)).toEqual(['8']);
  });

  it('dead-letters events Redis refuses outright, as replayable stream fields, instead of retrying forever', async () => {
    const config = configFor();
    await startBridge(config);
    // A key of the wrong type where the stream belongs: every append is refused with WRONGTYPE.
    await redis.set(config.keys.streamKey, 'not a stream');
    await publisher.publishAsync(
      `${topicRoot(config)}/refused/m`,
      JSON.stringify({ value: 5, occurredAt: '2026-05-01T10:00:00Z', eventId: 'e-5' }),
      { qos: 1 },
    );

    await eventually(
      async () => (await redis.xLen(config.keys.deadLetterKey)) === 1,
      10_000,
      'the refused event dead-lettered',
    );
    const [letter] = await deadLetters(config);
    expect(letter!.reason).toMatch(/^redis refused the append: WRONGTYPE/);
    expect(letter!.payload).toEqual({
      source: 'refused',
      metric: 'm',
      value: '5',
      occurredAt: '2026-05-01T10:00:00.000Z',
      eventId: 'e-5',
    });
  });

  it('holds acknowledgements while the pipeline is behind, and appends the rest by itself once it catches up', async () => {
    const config = configFor({ INGEST_MAX_BACKLOG: '3' });
    const service = await startBridge(config);
    const root = topicRoot(config);
    for (let i = 0; i < 6; i++) await publisher.publishAsync(`${root}/held/m`, String(i), { qos: 1 });

    await eventually(async () => (await redis.xLen(config.keys.streamKey)) === 3, 10_000, 'the backlog limit reached');
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`)).status === 503,
      10_000,
      '/readyz 503',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
    expect(metrics).toMatch(/^bridge_holds_total\{reason="backpressure"\} [1-9]/m);
    expect(metrics).toMatch(/^bridge_messages_total 3$/m);

    // A worker takes and acknowledges what is there: the backlog drops and the broker's messages follow.
    await redis.xGroupCreate(config.keys.streamKey, config.consumerGroup, '0');
    await redis.xReadGroup(config.consumerGroup, 'w', { key: config.keys.streamKey, id: '>' }, { COUNT: 10 });
    const read = await redis.xRange(config.keys.streamKey, '-', '+');
    await redis.xAck(
      config.keys.streamKey,
      config.consumerGroup,
      read.map(({ id }) => id),
    );
    await eventually(async () => (await redis.xLen(config.keys.streamKey)) === 6, 10_000, 'the held messages appended');
    expect((await entries(config)).map(({ value }) => value)).toEqual(['0', '1', '2', '3', '4', '5']);
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`)).status === 200,
      10_000,
      '/readyz 200',
    );
  });

  it('stops promptly while holding a message, which the broker keeps for the next start', async () => {
    const config = configFor({ INGEST_MAX_BACKLOG: '1', BRIDGE_RETRY_DELAY_MS: '60000' });
    const service = await startBridge(config);
    await publisher.publishAsync(`${topicRoot(config)}/kept/m`, '1', { qos: 1 });
    await publisher.publishAsync(`${topicRoot(config)}/kept/m`, '2', { qos: 1 });
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`)).status === 503,
      10_000,
      'the second message held',
    );

    // The retry pause is a minute; stopping must not wait for it.
    const stopping = Date.now();
    await service.close();
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect((await entries(config)).map(({ value }) => value)).toEqual(['1']);

    await redis.del(config.keys.streamKey);
    await startBridge(config);
    await eventually(
      async () => (await redis.xLen(config.keys.streamKey)) === 1,
      10_000,
      'the kept message appended after the restart',
    );
    expect((await entries(config)).map(({ value }) => value)).toEqual(['2']);
  });

  it('holds acknowledgements while Redis is down, and appends by itself once it is back', async () => {
    const server = await startRedisServer();
    try {
      const config = loadBridgeConfig({ ...bridgeEnv(), REDIS_URL: server.url });
      const service = await startBridge(config);
      const own = createRedisClient(server.url, { name: 'outage-test', logger });
      await own.connect();
      try {
        await server.kill();
        await publisher.publishAsync(`${topicRoot(config)}/outage/m`, '1', { qos: 1 });
        await eventually(
          async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`)).status === 503,
          10_000,
          '/readyz 503',
        );
        await eventually(
          async () =>
            /^bridge_holds_total\{reason="unavailable"\} [1-9]/m.test(
              await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text(),
            ),
          10_000,
          'holds counted',
        );
        await server.restart();
        await eventually(
          async () => (await own.xLen(config.keys.streamKey)) === 1,
          15_000,
          'the held message appended',
        );
        expect(eventFields((await own.xRange(config.keys.streamKey, '-', '+'))[0]!.message)).toMatchObject({
          source: 'outage',
          value: '1',
        });
      } finally {
        own.destroy();
      }
    } finally {
      await Promise.all(running.splice(0).map((service) => service.close()));
      await server.stop();
    }
  });

  it('answers a message the broker sends again after a lost PUBACK as a duplicate, not a second entry', async () => {
    const config = configFor();
    const bridgeRedis = createRedisClient(config.redis, { name: 'bridge-test', logger });
    await bridgeRedis.connect();
    let bridge: MqttBridge | undefined;
    // The real Redis, but the broker connection is cut the moment the first append has gone through.
    let cut = false;
    const cutting = new Proxy(bridgeRedis, {
      get(target, property, receiver) {
        if (property !== 'sendCommand') return Reflect.get(target, property, receiver);
        return async (...args: Parameters<RedisClient['sendCommand']>) => {
          const reply = await target.sendCommand(...args);
          if (!cut && /^EVAL/.test(String(args[0][0]))) {
            cut = true;
            (bridge as unknown as { client: MqttClient }).client.stream.destroy();
          }
          return reply;
        };
      },
    });
    bridge = new MqttBridge({ config, redis: cutting, logger });
    running.push({ close: async () => (await bridge!.stop(), await bridgeRedis.close()) });
    await bridge.start();

    await publisher.publishAsync(`${topicRoot(config)}/again/m`, '7', { qos: 1 });
    // Handled twice: once before the cut, once when the broker sent it again.
    await eventually(
      async () => (await bridge!.metrics.messages.get()).values[0]?.value === 2,
      10_000,
      'the resend handled',
    );
    expect(cut).toBe(true);
    expect((await bridge.metrics.duplicates.get()).values[0]?.value).toBe(1);
    expect((await entries(config)).map(({ value }) => value)).toEqual(['7']);
  });

  it('splits a shared subscription between replicas, each message to one of them', async () => {
    const env = bridgeEnv({ MQTT_SHARED_GROUP: 'split' });
    const first = loadBridgeConfig(env);
    const second = loadBridgeConfig({ ...env, MQTT_CLIENT_ID: `${env.MQTT_CLIENT_ID}-b` });
    const [a, b] = await Promise.all([startBridge(first), startBridge(second)]);
    for (let i = 0; i < 20; i++) await publisher.publishAsync(`${topicRoot(first)}/s${i}/m`, String(i), { qos: 1 });

    const handled = async (service: RunningBridge) =>
      (await service.bridge.metrics.messages.get()).values[0]?.value ?? 0;
    // A message counts once its events are in, a moment after the append: wait for the counts, not the stream.
    await eventually(async () => (await handled(a)) + (await handled(b)) === 20, 10_000, 'twenty messages handled');
    expect(await redis.xLen(first.keys.streamKey)).toBe(20);
    expect(await handled(a)).toBeGreaterThan(0);
    expect(await handled(b)).toBeGreaterThan(0);
  });
});
