import { dirname, join } from 'node:path';
import express, { Router, type Response } from 'express';
import {
  evictionRisk,
  readRedisMemory,
  type Keys,
  type RedisClient,
  type RollupStore,
} from '@redis-ingest/redis-schema';
import { REDIS_PATH, ROLLUPS_PATH, STREAM_PATH } from './api-routes';
import { readStreamCounters } from './stream-counters';

export { dashboardApiRoutes } from './api-routes';

/** The page's own files; the build copies them beside the compiled module. */
const PUBLIC_DIR = join(__dirname, 'public');
const ASSETS_PATH = '/dashboard';
// Served by name from uPlot's own directory: pnpm's store path has a dot segment, which a full path would trip over.
const UPLOT_DIST = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
const VENDOR_FILES = new Set(['uPlot.iife.min.js', 'uPlot.min.css']);

/** Everything the page loads comes from this origin, and nothing may run inline or frame it. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function secure(res: Response): void {
  res.set({
    'Content-Security-Policy': DASHBOARD_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
}

export interface DashboardDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly store: () => Promise<RollupStore>;
  readonly rawRetentionMs: number;
}

/** The live dashboard at `/`, its assets under /dashboard, and the read routes only it needs. */
export function dashboardRouter({ redis, keys, store, rawRetentionMs }: DashboardDeps): Router {
  const router = Router();

  router.get('/', (_req, res) => {
    secure(res);
    res.sendFile(join(PUBLIC_DIR, 'index.html'));
  });

  router.get(`${ASSETS_PATH}/vendor/:file`, (req, res, next) => {
    if (!VENDOR_FILES.has(req.params.file)) return next();
    secure(res);
    res.sendFile(req.params.file, { root: UPLOT_DIST, maxAge: '1d' });
  });

  router.use(
    ASSETS_PATH,
    (_req, res, next) => {
      secure(res);
      next();
    },
    express.static(PUBLIC_DIR, { index: false, fallthrough: true }),
  );

  router.get(ROLLUPS_PATH, async (_req, res) => {
    const { backend, tiers } = await store();
    res.json({ backend, rawRetentionMs, tiers });
  });

  router.get(STREAM_PATH, async (_req, res) => {
    res.json(await readStreamCounters(redis, keys.partitions));
  });

  router.get(REDIS_PATH, async (_req, res) => {
    const { usedBytes, maxBytes, policy } = await readRedisMemory(redis, keys.partitions[0]!.stream);
    res.json({
      usedMemoryBytes: usedBytes,
      maxMemoryBytes: maxBytes,
      maxmemoryPolicy: policy,
      evictionRisk: evictionRisk(policy),
    });
  });

  return router;
}
