import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { PartialAppendError, type Appended, type TelemetryEvent } from '@redis-ingest/redis-schema';
import { HttpError, toHttpError } from '@redis-ingest/service-kit';
import { influxToken, type Caller, type IngestAccess } from './access';
import type { IngestConfig } from './config';
import { eventsFromLines, type LineBatch } from './line-events';
import type { Precision } from './line-protocol';
import type { IngestMetrics } from './metrics';

export interface LineProtocolDeps {
  readonly config: IngestConfig;
  readonly access: IngestAccess;
  readonly metrics: IngestMetrics;
  /**
   * The JSON route's checks, rate limit and append, so both kinds of request get the same guarantees;
   * it answers no entry ids, since a write is answered with 204 or a count.
   */
  readonly admit: (caller: Caller, events: readonly TelemetryEvent[]) => Promise<Appended[]>;
  /** The service's mapping of non-HTTP errors (Redis down, backpressure) to answers. */
  readonly classify: (error: unknown) => HttpError | undefined;
  readonly reportPartitionFailure: (res: Response, error: unknown) => void;
}

const V2_PRECISIONS: Readonly<Record<string, Precision>> = { ns: 'ns', us: 'us', ms: 'ms', s: 's' };
const V1_PRECISIONS: Readonly<Record<string, Precision>> = { ...V2_PRECISIONS, n: 'ns', u: 'us', m: 'm', h: 'h' };

/** Rejected lines listed in one answer; the count says how many there were in all. */
const LISTED_REJECTIONS = 100;

function precisionOf(req: Request, precisions: Readonly<Record<string, Precision>>): Precision {
  const given = req.query.precision;
  if (given === undefined) return 'ns';
  const precision = typeof given === 'string' ? precisions[given] : undefined;
  if (precision === undefined) {
    throw new HttpError(400, `precision must be one of ${Object.keys(precisions).join(', ')}`, {
      precision: String(given),
    });
  }
  return precision;
}

/** The `code` InfluxDB puts beside `message`; clients log it, Telegraf shows it. */
const INFLUX_CODES: Readonly<Record<number, string>> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  413: 'request too large',
  415: 'unsupported media type',
  429: 'too many requests',
  503: 'unavailable',
};

/** Errors as InfluxDB words them (`code`, `message`), with this service's own `error` beside them. */
function influxErrors(classify: LineProtocolDeps['classify']): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    const known = toHttpError(error) ?? classify(error);
    if (!known) return next(error);
    res
      .status(known.status)
      .set(known.headers)
      .json({
        code: INFLUX_CODES[known.status] ?? 'invalid',
        message: known.message,
        error: known.message,
        ...known.details,
      });
  };
}

function rejectedLines(batch: LineBatch, appended: number): HttpError {
  const [first] = batch.rejected;
  const lines = batch.rejected.length;
  const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  const message =
    appended > 0
      ? `partial write: ${plural(lines, 'line')} rejected, ${plural(appended, 'event')} appended; line ${first!.line}: ${first!.message}`
      : `no line was appended; line ${first!.line}: ${first!.message}`;
  return new HttpError(400, message, {
    line: first!.line,
    accepted: appended,
    rejectedLines: lines,
    rejected: batch.rejected.slice(0, LISTED_REJECTIONS),
  });
}

/**
 * InfluxDB's write endpoints, v2 (`/api/v2/write`, as Telegraf's influxdb_v2 output and the client
 * libraries use it) and v1 (`/write`). The org, bucket, db and rp parameters are accepted and ignored:
 * this pipeline has one stream. A point becomes one event per numeric or boolean field (see
 * line-events.ts); valid lines are appended even when others are rejected, as InfluxDB does.
 */
export function lineProtocolRoutes({
  config,
  access,
  metrics,
  admit,
  classify,
  reportPartitionFailure,
}: LineProtocolDeps): Router {
  const router = Router();
  // Any content type: clients send text/plain, some nothing at all. The limit holds for the inflated
  // body, and inflating stops at it, so a gzip bomb costs no more than a plain body.
  const body = express.raw({ type: () => true, limit: config.bodyLimitBytes });

  const write = (precisions: Readonly<Record<string, Precision>>) => async (req: Request, res: Response) => {
    const receivedAtMs = Date.now();
    const precision = precisionOf(req, precisions);
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const batch = eventsFromLines(text, precision, config.lineMapping, receivedAtMs);
    // A rejected line counts as one event: a line that does not parse has no fields to count.
    metrics.rejected.inc({ reason: 'invalid' }, batch.rejected.length);
    if (batch.events.length === 0) {
      if (batch.rejected.length === 0) throw new HttpError(400, 'writing requires points');
      throw rejectedLines(batch, 0);
    }
    if (batch.events.length > config.lineMaxEvents) {
      throw new HttpError(
        413,
        `A request may carry at most ${config.lineMaxEvents} events (one per field of each point)`,
        {
          events: batch.events.length,
          maxEvents: config.lineMaxEvents,
        },
      );
    }
    try {
      await admit(access.caller(res), batch.events);
    } catch (error) {
      if (!(error instanceof PartialAppendError)) throw error;
      for (const failure of error.failures) reportPartitionFailure(res, failure.error);
      // Points carry no event id, so a retry appends again what did get in; saying how much did is all that is left.
      const appended = error.results.filter((result) => result !== undefined).length;
      throw new HttpError(
        503,
        `Only ${appended} of ${batch.events.length} events were appended; retry later`,
        { appended },
        { 'Retry-After': '1' },
      );
    }
    if (batch.rejected.length > 0) throw rejectedLines(batch, batch.events.length);
    res.status(204).end();
  };

  router.post('/api/v2/write', access.authenticate(influxToken), body, write(V2_PRECISIONS));
  router.post('/write', access.authenticate(influxToken), body, write(V1_PRECISIONS));
  router.use(influxErrors(classify));
  return router;
}
