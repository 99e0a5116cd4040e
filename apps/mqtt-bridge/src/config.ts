import { hostname } from 'node:os';
import {
  ConfigError,
  loadPipelineConfig,
  readInteger,
  readOptionalString,
  readString,
  readUrl,
  type Env,
  type PipelineConfig,
} from '@redis-ingest/redis-schema';

export interface BridgeConfig extends PipelineConfig {
  /** Port of /healthz, /readyz and /metrics. */
  readonly port: number;
  readonly mqttUrl: string;
  /** Topic filters subscribed to; each topic's last two levels are read as `<source>/<metric>`. */
  readonly topics: readonly string[];
  /** MQTT 5 share group: replicas subscribing under one group split the messages; undefined (`none`) subscribes plainly. */
  readonly sharedGroup: string | undefined;
  /** Stable per replica: the broker keeps the session, and what arrives while the bridge is away, under it. */
  readonly clientId: string;
  /** How long the broker keeps the session (and queues for it) after the bridge disconnects. */
  readonly sessionExpirySeconds: number;
  /** Unacknowledged QoS 1 messages the broker may send at once. */
  readonly receiveMaximum: number;
  /** Most events one JSON array payload may carry. */
  readonly maxBatch: number;
  /** Largest payload parsed; a larger one is dead-lettered unread. */
  readonly maxPayloadBytes: number;
  /** Same meaning as for the ingest-api: the bridge holds acknowledgements while a partition is this far behind. */
  readonly maxBacklog: number;
  readonly idempotencyWindowMs: number;
  readonly deadLetterMaxLen: number;
  /** How long one Redis command may take before the message is tried again. */
  readonly redisTimeoutMs: number;
  /** Pause between attempts while Redis is unreachable or the pipeline is behind. */
  readonly retryDelayMs: number;
}

const MQTT_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** Wildcards are allowed, as in any filter; the share prefix is added from MQTT_SHARED_GROUP, not written here. */
function readTopics(env: Env): string[] {
  const topics = readString(env, 'MQTT_TOPICS', 'telemetry/+/+')
    .split(',')
    .map((topic) => topic.trim())
    .filter((topic) => topic !== '');
  if (topics.length === 0) throw new ConfigError('MQTT_TOPICS', 'expected at least one topic filter');
  for (const topic of topics) {
    const levels = topic.split('/');
    const badWildcard = levels.some(
      (level, index) =>
        (level.includes('#') && (level !== '#' || index !== levels.length - 1)) ||
        (level.includes('+') && level !== '+'),
    );
    if (badWildcard || topic.startsWith('$share/')) {
      throw new ConfigError(
        'MQTT_TOPICS',
        `"${topic}" is not a topic filter (use MQTT_SHARED_GROUP for shared subscriptions)`,
      );
    }
  }
  return topics;
}

function readSharedGroup(env: Env): string | undefined {
  const group = readString(env, 'MQTT_SHARED_GROUP', 'redis-ingest');
  if (group === 'none') return undefined;
  if (/[/+#]/.test(group))
    throw new ConfigError('MQTT_SHARED_GROUP', `must not contain "/", "+" or "#", got "${group}"`);
  return group;
}

export function loadBridgeConfig(env: Env): BridgeConfig {
  const clientId = readOptionalString(env, 'MQTT_CLIENT_ID') ?? `redis-ingest-bridge-${hostname()}`;
  if (clientId.length > 128) throw new ConfigError('MQTT_CLIENT_ID', 'at most 128 characters');
  return {
    ...loadPipelineConfig(env),
    port: readInteger(env, 'BRIDGE_PORT', 8083, { max: 65_535 }),
    mqttUrl: readUrl(env, 'MQTT_URL', 'mqtt://127.0.0.1:1883', MQTT_PROTOCOLS),
    topics: readTopics(env),
    sharedGroup: readSharedGroup(env),
    clientId,
    sessionExpirySeconds: readInteger(env, 'MQTT_SESSION_EXPIRY_S', 3_600, { min: 1, max: 4_294_967_295 }),
    receiveMaximum: readInteger(env, 'MQTT_RECEIVE_MAXIMUM', 100, { min: 1, max: 65_535 }),
    maxBatch: readInteger(env, 'BRIDGE_MAX_BATCH', 1_000, { min: 1, max: 100_000 }),
    maxPayloadBytes: readInteger(env, 'BRIDGE_MAX_PAYLOAD_BYTES', 1_048_576, { min: 1_024, max: 64 * 1_048_576 }),
    maxBacklog: readInteger(env, 'INGEST_MAX_BACKLOG', 1_000_000),
    idempotencyWindowMs: readInteger(env, 'INGEST_IDEMPOTENCY_WINDOW_MS', 600_000, { min: 1 }),
    deadLetterMaxLen: readInteger(env, 'INGEST_DEAD_LETTER_MAXLEN', 100_000, { min: 1 }),
    redisTimeoutMs: readInteger(env, 'BRIDGE_REDIS_TIMEOUT_MS', 1_000, { min: 10, max: 60_000 }),
    retryDelayMs: readInteger(env, 'BRIDGE_RETRY_DELAY_MS', 1_000, { min: 10, max: 60_000 }),
  };
}
