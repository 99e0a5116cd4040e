import { hostname } from 'node:os';
import { ConfigError } from '@redis-ingest/redis-schema';
import { loadBridgeConfig } from './config';

describe('loadBridgeConfig', () => {
  it('uses the documented defaults on top of the pipeline config', () => {
    expect(loadBridgeConfig({})).toMatchObject({
      port: 8083,
      mqttUrl: 'mqtt://127.0.0.1:1883',
      topics: ['telemetry/+/+'],
      sharedGroup: 'redis-ingest',
      clientId: `redis-ingest-bridge-${hostname()}`,
      sessionExpirySeconds: 3_600,
      receiveMaximum: 100,
      maxBatch: 1_000,
      maxPayloadBytes: 1_048_576,
      maxBacklog: 1_000_000,
      idempotencyWindowMs: 600_000,
      deadLetterMaxLen: 100_000,
      redisTimeoutMs: 1_000,
      retryDelayMs: 1_000,
      keys: { streamKey: 'telemetry:events', deadLetterKey: 'telemetry:events:dead-letter' },
    });
  });

  it('reads every bridge variable', () => {
    const config = loadBridgeConfig({
      BRIDGE_PORT: '0',
      MQTT_URL: 'mqtts://broker.example:8883',
      MQTT_TOPICS: ' plant/+/+/+ , devices/# ,',
      MQTT_SHARED_GROUP: 'none',
      MQTT_CLIENT_ID: 'bridge-a',
      MQTT_SESSION_EXPIRY_S: '60',
      MQTT_RECEIVE_MAXIMUM: '10',
      BRIDGE_MAX_BATCH: '50',
      BRIDGE_MAX_PAYLOAD_BYTES: '2048',
      INGEST_MAX_BACKLOG: '0',
      INGEST_IDEMPOTENCY_WINDOW_MS: '1000',
      INGEST_DEAD_LETTER_MAXLEN: '10',
      BRIDGE_REDIS_TIMEOUT_MS: '500',
      BRIDGE_RETRY_DELAY_MS: '50',
    });
    expect(config).toMatchObject({
      port: 0,
      mqttUrl: 'mqtts://broker.example:8883',
      topics: ['plant/+/+/+', 'devices/#'],
      sharedGroup: undefined,
      clientId: 'bridge-a',
      sessionExpirySeconds: 60,
      receiveMaximum: 10,
      maxBatch: 50,
      maxPayloadBytes: 2_048,
      maxBacklog: 0,
      idempotencyWindowMs: 1_000,
      deadLetterMaxLen: 10,
      redisTimeoutMs: 500,
      retryDelayMs: 50,
    });
  });

  it.each([
    ['BRIDGE_PORT', '65536'],
    ['MQTT_URL', 'http://broker:1883'],
    ['MQTT_URL', 'broker:1883'],
    ['MQTT_TOPICS', ' , '],
    ['MQTT_TOPICS', 'telemetry/#/x'],
    ['MQTT_TOPICS', 'telemetry/a+/b'],
    ['MQTT_TOPICS', '$share/g/telemetry/+/+'],
    ['MQTT_SHARED_GROUP', 'a/b'],
    ['MQTT_SHARED_GROUP', 'a+'],
    ['MQTT_CLIENT_ID', 'x'.repeat(129)],
    ['MQTT_SESSION_EXPIRY_S', '0'],
    ['MQTT_RECEIVE_MAXIMUM', '65536'],
    ['BRIDGE_MAX_BATCH', '0'],
    ['BRIDGE_MAX_PAYLOAD_BYTES', '1023'],
    ['INGEST_MAX_BACKLOG', '-1'],
    ['BRIDGE_REDIS_TIMEOUT_MS', '5'],
    ['BRIDGE_RETRY_DELAY_MS', 'soon'],
  ])('stops on %s=%s and names it', (variable, value) => {
    expect(() => loadBridgeConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadBridgeConfig({ [variable]: value })).toThrow(new RegExp(`^${variable.replace('$', '\\$')}: `));
  });
});
