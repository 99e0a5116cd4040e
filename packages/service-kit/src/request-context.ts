import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from './logger';

/** Ids a client or proxy may hand in: short, and free of anything that could forge log or header content. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/**
 * Gives each request an id (the client's X-Request-Id when sane, else a fresh UUID), echoes it in
 * the answer, and a child logger carrying it (see requestLogger) that also logs the request's end:
 * debug for successes, info for client errors, warn for server errors, so a busy service logs only
 * what needs a look at the default level.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    res.set('X-Request-Id', requestId);
    const log = logger.child({ requestId });
    res.locals.log = log;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'warn' : status >= 400 ? 'info' : 'debug';
      log[level](
        { method: req.method, path: req.path, status, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  };
}

/** The request's logger when requestContext runs, else `fallback`. */
export function requestLogger(res: Response, fallback: Logger): Logger {
  return (res.locals.log as Logger | undefined) ?? fallback;
}
