import cluster from 'node:cluster';
import type { Request, RequestHandler } from 'express';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { classifyRedisError } from '@redis-ingest/redis-schema';
import type { RouteDescription } from './openapi';
import type { RedisSettings } from './redis-settings';

const RISK_VALUE: Record<RedisSettings['risk'], number> = {
  none: 0,
  'keys-with-ttl': 1,
  'any-key': 2,
  unknown: Number.NaN,
};

export type { Counter, Histogram };

/** The route pattern a request matched, so label values stay few whatever URLs clients send. */
function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/** Queue health as readQueueStats reports it; lag is null when Redis cannot tell. */
export interface QueueSample {
  readonly total: number;
  readonly pending: number;
  readonly lag: number | null;
  readonly dead_lettered: number;
}

const CLUSTER_METRICS_REQUEST = 'redis-ingest:cluster-metrics-request';
const CLUSTER_METRICS_REPLY = 'redis-ingest:cluster-metrics-reply';
const CLUSTER_METRICS_TIMEOUT_MS = 5_000;

interface ClusterMetricsReply {
  readonly type: typeof CLUSTER_METRICS_REPLY;
  readonly requestId: number;
  readonly text?: string;
  readonly error?: string;
}

/**
 * One Prometheus registry per service: process and Node.js metrics, HTTP requests by route and
 * status with their latency, Redis errors, and queue gauges read from Redis at scrape time.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly redisErrors: Counter<'operation' | 'kind'>;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.redisErrors = this.counter(
      'redis_errors_total',
      'Redis commands that failed (unreachable, timed out or refused), by what they were for and the kind of failure',
      ['operation', 'kind'],
    );
    this.requests = this.counter('http_requests_total', 'HTTP requests answered, by method, route pattern and status', [
      'method',
      'route',
      'status',
    ]);
    this.latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its answer, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  /** A counter of this service's own, in its registry. */
  counter<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []): Counter<Label> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram of this service's own, in its registry; `buckets` in the unit the name ends with. */
  histogram<Label extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly Label[] = [],
  ): Histogram<Label> {
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /** Counts and times every request; mount before the routes. */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const stopTimer = this.latency.startTimer();
      res.on('finish', () => {
        const labels = { method: req.method, route: routeLabel(req) };
        stopTimer(labels);
        this.requests.inc({ ...labels, status: String(res.statusCode) });
      });
      next();
    };
  }

  /**
   * Gauges of the stream's length, lag and pending entries and of the dead letters, read once per
   * scrape. A failed read counts as a Redis error and reports NaN rather than a stale value.
   */
  sampleQueue(sample: () => Promise<QueueSample>): void {
    let current: Promise<QueueSample | undefined> | undefined;
    // The registry collects every gauge at once; they share the one read that is in flight.
    const read = () => {
      current ??= sample()
        .catch((error: unknown) => {
          this.redisErrors.inc({ operation: 'queue-stats', kind: classifyRedisError(error) ?? 'other' });
          return undefined;
        })
        .finally(() => {
          current = undefined;
        });
      return current;
    };
    const gauge = (name: string, help: string, value: (stats: QueueSample) => number | null) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        // Every process reads the same Redis: adding their answers up would multiply the queue.
        aggregator: 'max',
        async collect() {
          const stats = await read();
          this.set(stats ? (value(stats) ?? Number.NaN) : Number.NaN);
        },
      });
    gauge('telemetry_stream_length', 'Entries in the event stream', (stats) => stats.total);
    gauge(
      'telemetry_stream_lag',
      'Entries the consumer group has not yet been handed (NaN when Redis cannot tell)',
      (stats) => stats.lag,
    );
    gauge('telemetry_stream_pending', 'Entries handed to a worker and not yet acknowledged', (stats) => stats.pending);
    gauge('telemetry_dead_letter_length', 'Entries in the dead-letter stream', (stats) => stats.dead_lettered);
  }

  /**
   * `redis_eviction_risk`: what Redis' maxmemory-policy may delete under memory pressure, 0 nothing,
   * 1 keys with a TTL, 2 any key, NaN when unknown; labelled with the policy. Alert on anything above 0.
   * `settings` is read at each scrape, so a RedisSettingsWatch's later answer shows.
   */
  evictionRisk(settings: RedisSettings): void {
    new Gauge({
      name: 'redis_eviction_risk',
      help: 'What Redis maxmemory-policy may delete under memory pressure: 0 nothing, 1 keys with a TTL, 2 any key; NaN when unknown',
      labelNames: ['policy'],
      registers: [this.registry],
      // Every process asks the same Redis.
      aggregator: 'max',
      // Read at each scrape: settings checked once Redis became reachable replace the unknown ones.
      collect() {
        this.reset();
        this.set({ policy: settings.policy }, RISK_VALUE[settings.risk]);
      },
    });
  }

  /**
   * GET /metrics in the Prometheus text format. In a node:cluster worker the primary gathers every
   * process's metrics and adds them up (see serveClusterMetrics), so a scrape sees the whole service
   * whichever process answers it.
   */
  handler(): RequestHandler {
    if (cluster.isWorker) {
      // Lets the primary's AggregatorRegistry ask this process for its registry.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([this.registry]);
    }
    return async (_req, res) => {
      const text = cluster.isWorker ? await askPrimaryForMetrics() : await this.registry.metrics();
      // res.set would append a charset to the exposition format's exact content type.
      res.setHeader('Content-Type', this.registry.contentType);
      res.end(text);
    };
  }
}

let nextRequestId = 0;

function askPrimaryForMetrics(): Promise<string> {
  const requestId = nextRequestId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error('the primary process did not send the metrics in time')),
      CLUSTER_METRICS_TIMEOUT_MS,
    );
    const onMessage = (message: ClusterMetricsReply) => {
      if (message?.type !== CLUSTER_METRICS_REPLY || message.requestId !== requestId) return;
      if (message.error !== undefined) finish(new Error(message.error));
      else finish(undefined, message.text);
    };
    const finish = (error?: Error, text?: string) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (error) reject(error);
      else resolve(text ?? '');
    };
    process.on('message', onMessage);
    process.send!({ type: CLUSTER_METRICS_REQUEST, requestId });
  });
}

/**
 * In the node:cluster primary: answers the workers' /metrics with every worker's registry added up
 * (counters and histograms summed, queue gauges taken once). Call before runProcesses.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: unknown; requestId?: unknown }) => {
    if (message?.type !== CLUSTER_METRICS_REQUEST) return;
    const reply = (fields: Partial<ClusterMetricsReply>) => {
      if (worker.isConnected()) worker.send({ type: CLUSTER_METRICS_REPLY, requestId: message.requestId, ...fields });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: Error) => reply({ error: error.message }),
    );
  });
}

export const metricsRoute: RouteDescription = {
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics in the text exposition format (not JSON)',
  responses: { 200: { description: 'Counters, histograms and gauges of this service' } },
};
