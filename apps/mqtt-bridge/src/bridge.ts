import { setTimeout as delay } from 'node:timers/promises';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import { ErrorReply } from '@redis/client';
import {
  BackpressureError,
  PartialAppendError,
  REPLY_WITHOUT_IDS,
  appendToPartitions,
  createKeys,
  deadLetterFields,
  encodeEvent,
  isConnectionError,
  type Appended,
  type Keys,
  type RedisClient,
} from '@redis-ingest/redis-schema';
import type { Logger } from '@redis-ingest/service-kit';
import type { BridgeConfig } from './config';
import { mapMessage, type MappedMessage, type MqttMessage } from './mapping';
import { BridgeMetrics, type HoldReason } from './metrics';

export interface BridgeDeps {
  readonly config: BridgeConfig;
  readonly redis: RedisClient;
  readonly logger: Logger;
  readonly metrics?: BridgeMetrics;
}

/** The message was left unacknowledged on purpose: the broker sends it again. */
class NotAcknowledged extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'NotAcknowledged';
  }
}

function holdReason(error: unknown): HoldReason {
  if (error instanceof BackpressureError) return 'backpressure';
  return isConnectionError(error) ? 'unavailable' : 'failed';
}

/** Redis refused the append itself, not for backpressure: trying again cannot help. */
const isRefusal = (error: unknown) =>
  error instanceof ErrorReply && !(error instanceof BackpressureError) && !isConnectionError(error);

/** The subscriptions, each under `$share/<group>/` when a share group is set. */
export function subscriptionFilters(config: Pick<BridgeConfig, 'topics' | 'sharedGroup'>): string[] {
  return config.topics.map((topic) =>
    config.sharedGroup === undefined ? topic : `$share/${config.sharedGroup}/${topic}`,
  );
}

/**
 * Subscribes to the configured topics and appends what arrives to the stream. MQTT.js hands over one
 * message at a time and sends a QoS 1 message's PUBACK only when handleMessage calls back (its default
 * customHandleAcks accepts each message and passes it on to handleMessage, which QoS 0 messages reach
 * too), so a message is acknowledged only once its events (or its dead letter) are in Redis. While the pipeline
 * is behind or Redis is unreachable the message in hand is retried and not acknowledged; MQTT.js reads
 * nothing further meanwhile and the broker, its receive window full, keeps the rest.
 */
export class MqttBridge {
  readonly metrics: BridgeMetrics;
  private readonly keys: Keys;
  private client: MqttClient | undefined;
  /** Counts the broker connections: a message from an earlier one must not be acknowledged on a later one. */
  private connection = 0;
  private stopping = false;
  private readonly stopped = new AbortController();
  private current: Promise<void> | undefined;
  private holding: HoldReason | undefined;

  constructor(private readonly deps: BridgeDeps) {
    this.metrics = deps.metrics ?? new BridgeMetrics();
    this.keys = createKeys(deps.config.keys);
  }

  /** Connected to the broker and not holding a message back for backpressure or an unreachable Redis. */
  get flowing(): boolean {
    return this.client?.connected === true && this.holding === undefined;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Connects (MQTT.js retries until the broker answers) and resolves once the first subscription holds. */
  async start(): Promise<void> {
    if (this.client) throw new Error('the bridge is already started');
    const { config, logger } = this.deps;
    const client = connect(config.mqttUrl, {
      clientId: config.clientId,
      protocolVersion: 5,
      // A persistent session: what arrives while the bridge is away, and what it had not acknowledged, waits for it.
      clean: false,
      properties: { sessionExpiryInterval: config.sessionExpirySeconds, receiveMaximum: config.receiveMaximum },
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      // Subscribing again on each connect is done below, with the options MQTT.js would not repeat.
      resubscribe: false,
    });
    this.client = client;
    client.handleMessage = (packet, callback) => this.onMessage(packet, callback);
    client.on('close', () => {
      this.connection += 1;
    });
    client.on('offline', () => logger.warn({ url: config.mqttUrl }, 'mqtt broker unreachable; reconnecting'));
    client.on('error', (error) => logger.warn({ err: error }, 'mqtt client error'));
    const subscribed = new Promise<void>((resolve, reject) => {
      client.on('connect', (connack) => {
        this.subscribe().then(
          () => {
            logger.info(
              {
                clientId: config.clientId,
                sessionPresent: connack.sessionPresent,
                filters: subscriptionFilters(config),
              },
              'mqtt subscribed',
            );
            resolve();
          },
          (error: unknown) => {
            logger.error({ err: error }, 'mqtt subscribe failed');
            reject(error);
          },
        );
      });
    });
    try {
      await subscribed;
    } catch (error) {
      await client.endAsync(true);
      throw error;
    }
  }

  /**
   * Subscribes on every connect: a session the broker dropped (expired, or a broker without
   * persistence that restarted) has no subscriptions left. Retained messages are not asked for: they
   * are old readings, and the persistent session gets everything published while the bridge was away.
   */
  private async subscribe(): Promise<void> {
    const granted = await this.client!.subscribeAsync(subscriptionFilters(this.deps.config), { qos: 1, rh: 2 });
    const refused = granted.filter((grant) => grant.qos > 2);
    if (refused.length > 0) {
      throw new Error(
        `the broker refused ${refused.map((grant) => `${grant.topic} (reason ${grant.qos})`).join(', ')}`,
      );
    }
  }

  private onMessage(packet: IPublishPacket, callback: (error?: Error) => void): void {
    const handled = this.handle(packet);
    this.current = handled.then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    if (this.stopping) throw new NotAcknowledged('stopping');
    const connection = this.connection;
    const message: MqttMessage = {
      topic: packet.topic,
      payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
      qos: packet.qos,
      messageId: packet.messageId,
    };
    const { config } = this.deps;
    const { clientId, maxBatch, maxPayloadBytes } = config;
    const pending = mapMessage(message, { clientId, maxBatch, maxPayloadBytes, receivedAtMs: Date.now() });
    try {
      for (;;) {
        try {
          await this.deliver(message, pending);
          break;
        } catch (error) {
          await this.hold(error, message, connection);
        }
      }
      if (this.holding !== undefined)
        this.deps.logger.info({ held: this.holding }, 'redis takes events again; acknowledging resumed');
    } finally {
      // Also when the message is given up: nothing is held any more, and the next message tries afresh.
      this.holding = undefined;
    }
    this.metrics.messages.inc();
    // Its events are in; only the PUBACK is lost, and the broker's resend is answered as a duplicate.
    if (connection !== this.connection) throw new NotAcknowledged('the connection it came on is gone');
  }

  /**
   * Appends the events, then writes the dead letters. What is done leaves `pending`, so an attempt
   * after a failure repeats only the rest: QoS 0 events have no id and would otherwise be appended twice.
   */
  private async deliver(message: MqttMessage, pending: MappedMessage): Promise<void> {
    const { config, redis } = this.deps;
    if (pending.events.length > 0) {
      const options = {
        consumerGroup: config.consumerGroup,
        maxBacklog: config.maxBacklog,
        idempotencyWindowMs: config.idempotencyWindowMs,
      };
      try {
        this.count(await appendToPartitions(redis, this.keys, pending.events, options, REPLY_WITHOUT_IDS));
        pending.events = [];
      } catch (error) {
        if (error instanceof PartialAppendError) {
          this.count(error.results.filter((result) => result !== undefined));
          const failed = new Set(error.failures.flatMap((failure) => failure.positions));
          pending.events = pending.events.filter((_, position) => failed.has(position));
          throw error.failures[0]!.error;
        }
        if (!isRefusal(error)) throw error;
        // Retrying cannot change Redis' mind; the dead letter keeps the events replayable.
        const reason = `redis refused the append: ${(error as Error).message}`;
        pending.rejected.push(...pending.events.map((event) => ({ reason, fields: encodeEvent(event) })));
        pending.events = [];
      }
    }
    if (pending.rejected.length > 0) {
      const failedAt = new Date().toISOString();
      const consumer = config.clientId;
      const messageId = message.messageId === undefined ? '' : String(message.messageId);
      await Promise.all(
        pending.rejected.map(({ reason, fields }) =>
          redis.xAdd(
            this.keys.deadLetter,
            '*',
            deadLetterFields({ messageId, reason, failedAt, consumer, topic: message.topic }, fields, []),
            {
              TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: config.deadLetterMaxLen },
            },
          ),
        ),
      );
      this.metrics.deadLettered.inc(pending.rejected.length);
      this.deps.logger.debug(
        { topic: message.topic, reasons: pending.rejected.map(({ reason }) => reason) },
        'payload dead-lettered',
      );
      pending.rejected = [];
    }
  }

  private count(appended: readonly Appended[]): void {
    const duplicates = appended.filter((result) => result.duplicate).length;
    this.metrics.appended.inc(appended.length - duplicates);
    this.metrics.duplicates.inc(duplicates);
  }

  /**
   * Waits before the next attempt. A QoS 1 message whose connection is gone is given up: the broker
   * sends it again on the next one. A QoS 0 message is never sent again, so it is kept until it is in.
   */
  private async hold(error: unknown, message: MqttMessage, connection: number): Promise<void> {
    const reason = holdReason(error);
    this.metrics.held.inc({ reason });
    if (reason !== 'backpressure') this.metrics.service.redisErrors.inc({ operation: 'append' });
    if (this.holding === undefined) {
      const log =
        reason === 'failed'
          ? this.deps.logger.error.bind(this.deps.logger)
          : this.deps.logger.warn.bind(this.deps.logger);
      log({ err: error, reason, topic: message.topic }, 'cannot append now; holding the message unacknowledged');
    }
    this.holding = reason;
    if (message.qos > 0 && connection !== this.connection)
      throw new NotAcknowledged('the connection it came on is gone');
    if (this.stopping) {
      if (message.qos === 0)
        this.deps.logger.error({ topic: message.topic }, 'stopping with a QoS 0 message not appended; it is lost');
      throw new NotAcknowledged('stopping');
    }
    try {
      await delay(this.deps.config.retryDelayMs, undefined, { signal: this.stopped.signal });
    } catch {
      // Aborted by stop(); the check above gives up on the next round.
    }
  }

  /**
   * Stops taking messages: the one in hand gets its last attempt, is acknowledged if it got in, and
   * the connection closes. Whatever was not acknowledged stays with the broker for the next session.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopped.abort();
    await this.current;
    await this.client?.endAsync();
  }
}
