import express, { type Express } from 'express';
import {
  TooManySourcesError,
  connectWithin,
  createKeys,
  createRedisClient,
  createRollupStore,
  isTransientRedisError,
  addUpQueueStats,
  listSeries,
  UnsupportedSeriesFilterError,
  readPartitionQueueStats,
  readQueueStats,
  type RedisClient,
  type RollupStore,
} from '@redis-ingest/redis-schema';
import {
  HttpError,
  Readiness,
  RedisFailures,
  ServiceMetrics,
  closeServer,
  createLimitedHttpServer,
  RedisSettingsWatch,
  createLogger,
  listen,
  notFound,
  requestContext,
  UNKNOWN_REDIS_SETTINGS,
  type Logger,
  type RedisSettings,
} from '@redis-ingest/service-kit';
import { queryAccess, warnAboutOpenRoutes } from './access';
import { queryApiDocument } from './api-document';
import type { QueryConfig } from './config';
import { dashboardRouter } from './dashboard';
import { DEAD_LETTERS_PATH, deadLetterRouter } from './dead-letters';
import {
  compileParams,
  compileQuery,
  invalid,
  metricParamsSchema,
  metricRangeQuerySchema,
  rangeQuerySchema,
  recentQuerySchema,
  seriesPageQuerySchema,
  seriesParamsSchema,
} from './query-params';
import { readRecentEvents } from './recent-events';
import { resolveRange } from './time-range';

export interface QueryDeps {
  readonly config: QueryConfig;
  readonly redis: RedisClient;
  /**
   * Resolves the rollup store. Building one needs Redis (backend probe, script loading), so a
   * service started while Redis was down gets its store on the first request after Redis returns.
   */
  readonly store: () => Promise<RollupStore>;
  readonly logger: Logger;
  /**
   * Flipped by whoever stops the server; by default one that only PINGs Redis, which on a cluster
   * asks every primary and so every partition's.
   */
  readonly readiness?: Readiness;
  /** What the start-up check found out about Redis' eviction policy. */
  readonly redisSettings?: RedisSettings;
}

const DEFAULT_SERIES_PAGE = 100;
const DEFAULT_RECENT = 10;

function classifyError(error: unknown): HttpError | undefined {
  // Express refuses a path parameter that is not valid percent-encoding with a bare URIError.
  if (error instanceof URIError && (error as URIError & { status?: unknown }).status === 400) {
    return new HttpError(400, 'A path parameter is not valid percent-encoding');
  }
  return undefined;
}

export function createServer({
  config,
  redis,
  store,
  logger,
  readiness = new Readiness(() => redis.ping()),
  redisSettings = UNKNOWN_REDIS_SETTINGS,
}: QueryDeps): Express {
  const keys = createKeys(config.keys);
  const metrics = new ServiceMetrics();
  metrics.sampleQueue(() => readQueueStats(redis, keys, config.consumerGroup));
  metrics.evictionRisk(redisSettings);
  const access = queryAccess(config);
  const parseSeriesPageQuery = compileQuery(seriesPageQuerySchema(config.maxSeriesPage));
  const parseRecentQuery = compileQuery(recentQuerySchema(config.maxRecent));
  const parseSeriesParams = compileParams(seriesParamsSchema);
  const parseRangeQuery = compileQuery(rangeQuerySchema(config.maxPoints));
  const parseMetricParams = compileParams(metricParamsSchema);
  const parseMetricRangeQuery = compileQuery(metricRangeQuerySchema);
  const document = queryApiDocument(config);
  // Loading the configuration refuses an empty tier list, so there is always a first tier.
  const [defaultTier] = config.rollupTiers;
  const defaultAggregation = { type: defaultTier!.aggregation, bucketMs: defaultTier!.bucketMs };
  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger), metrics.httpMiddleware());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', readiness.handler());
  app.get('/metrics', metrics.handler());

  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });

  // Every data route lives under /api; the dashboard's page and assets stay open so it can ask for a token.
  app.use('/api', access.read);

  const seriesPage = async ({ cursor, limit, ...filter }: ReturnType<typeof parseSeriesPageQuery>) => {
    try {
      return await listSeries(redis, keys, {
        ...filter,
        after: cursor,
        limit: limit ?? Math.min(DEFAULT_SERIES_PAGE, config.maxSeriesPage),
      });
    } catch (error) {
      if (error instanceof UnsupportedSeriesFilterError)
        throw invalid('query parameters', [{ path: `/${error.field}`, message: error.message }]);
      throw error;
    }
  };

  app.get('/api/ingest/summary', async (req, res) => {
    const query = parseSeriesPageQuery(req.query);
    const [partitions, page] = await Promise.all([
      Promise.all(keys.partitions.map((partition) => readPartitionQueueStats(redis, partition, config.consumerGroup))),
      seriesPage(query),
    ]);
    const latest = page.series.length === 0 ? [] : await (await store()).latest(page.series);
    const metrics = page.series.map((series, i) => ({
      metric: series.metric,
      source: series.source,
      raw: latest[i]?.raw ?? null,
      rollup: latest[i]?.rollups[0] ?? null,
    }));
    // A single partition's figures would only repeat the queue's.
    const byPartition =
      partitions.length === 1 ? {} : { partitions: partitions.map((stats, partition) => ({ partition, ...stats })) };
    res.json({ queue: addUpQueueStats(partitions), ...byPartition, metrics, next: page.next });
  });

  app.get('/api/ingest/events/recent', async (req, res) => {
    const { count = Math.min(DEFAULT_RECENT, config.maxRecent) } = parseRecentQuery(req.query);
    res.json({ events: await readRecentEvents(redis, keys.partitions, count) });
  });

  app.get('/api/ingest/series', async (req, res) => {
    const page = await seriesPage(parseSeriesPageQuery(req.query));
    const series = page.series.map(({ metric, source }) => ({ metric, source, labels: { metric, source } }));
    res.json({ series, next: page.next });
  });

  app.get('/api/ingest/series/:metric/:source/range', async (req, res) => {
    const series = parseSeriesParams(req.params);
    const query = parseRangeQuery(req.query);
    const { fromMs, toMs, aggregation } = resolveRange(query, { nowMs: Date.now(), maxPoints: config.maxPoints });
    const rollups = await store();
    const limit = query.limit ?? config.maxPoints;
    const points = await rollups.range(series, {
      fromMs,
      toMs,
      limit,
      ...(aggregation === null ? {} : { aggregation }),
    });
    // The stores read a tier exactly when one matches both the aggregation and the bucket.
    const tier =
      aggregation !== null &&
      rollups.tiers.some((t) => t.aggregation === aggregation.type && t.bucketMs === aggregation.bucketMs);
    res.json({
      ...series,
      from: fromMs,
      to: toMs,
      aggregation: aggregation === null ? null : { ...aggregation, tier },
      points,
    });
  });

  app.get('/api/ingest/metrics/:metric/range', async (req, res) => {
    const { metric } = parseMetricParams(req.params);
    const query = parseMetricRangeQuery(req.query);
    const { fromMs, toMs, aggregation } = resolveRange(query, {
      nowMs: Date.now(),
      maxPoints: config.maxPoints,
      fallback: defaultAggregation,
    });
    const reduce = query.reduce ?? 'avg';
    const rollups = await store();
    try {
      const { sources, points } = await rollups.rangeAcrossSources(metric, {
        fromMs,
        toMs,
        limit: config.maxPoints,
        aggregation,
        reduce,
        maxSources: config.maxSources,
      });
      res.json({ metric, reduce, aggregation, sources, points });
    } catch (error) {
      if (error instanceof TooManySourcesError) {
        throw invalid('path parameters', [
          { path: '/metric', message: `Has more than ${config.maxSources} sources to reduce` },
        ]);
      }
      throw error;
    }
  });

  app.use(
    DEAD_LETTERS_PATH,
    deadLetterRouter({ redis, keys, maxPage: config.maxRecent, authorizeChange: access.admin }),
  );
  app.use(dashboardRouter({ redis, keys, store, rawRetentionMs: config.rawRetentionMs }));

  app.use(notFound());
  app.use(new RedisFailures(metrics, logger).errorHandler('query', classifyError));
  return app;
}

/** Memoises a successful build; a failed one is forgotten so the next call tries again. */
function retryUntilBuilt<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}

/** How long start-up waits for Redis before listening anyway; requests answer 503 until it is back. */
const CONNECT_WAIT_MS = 2_000;

export interface RunningQueryApi {
  readonly port: number;
  stop(): Promise<void>;
}

export async function start(
  config: QueryConfig,
  logger: Logger = createLogger('query-api', config.logLevel),
): Promise<RunningQueryApi> {
  const redis = createRedisClient(config.redis, { name: 'query-api', logger, commandTimeoutMs: config.redisTimeoutMs });
  const store = retryUntilBuilt(() => createRollupStore(redis, config));
  try {
    if (await connectWithin(redis, CONNECT_WAIT_MS)) {
      // Built now so that a misconfigured backend stops start-up instead of failing every request.
      await store().catch((error: unknown) => {
        if (!isTransientRedisError(error)) throw error;
      });
    } else {
      logger.warn('redis not reachable yet; answering 503 until it is');
    }
    const redisSettings = await RedisSettingsWatch.start(redis, config, logger);
    warnAboutOpenRoutes(config, logger);
    const readiness = new Readiness(() => redis.ping(), redisSettings);
    const server = createLimitedHttpServer(
      createServer({ config, redis, store, logger, readiness, redisSettings }),
      config.http,
    );
    const port = await listen(server, config.port, config.host);
    logger.info(
      { port, readToken: config.readToken !== undefined, adminToken: config.adminToken !== undefined },
      'query-api listening',
    );
    return {
      port,
      stop: async () => {
        await readiness.beginStopping(config.stopDelayMs);
        await closeServer(server);
        redisSettings.stop();
        redis.destroy();
      },
    };
  } catch (error) {
    redis.destroy();
    throw error;
  }
}
