import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';
import { requestLogger } from './request-context';

/** An error that is the client's to fix or a known server state; `status` and `body` go out as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Parses JSON bodies up to `limitBytes` into `req.body`, and bodies of `textTypes` (e.g. NDJSON) into a
 * string; any other declared content type is refused with 415.
 */
export function jsonBody(limitBytes: number, textTypes: readonly string[] = []): RequestHandler[] {
  const types = ['application/json', ...textTypes];
  const parsers = [express.json({ limit: limitBytes, type: 'application/json' })];
  if (textTypes.length > 0) parsers.push(express.text({ limit: limitBytes, type: [...textTypes] }));
  return [
    (req, _res, next) => {
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      if (hasBody && !req.is(types)) {
        next(
          new HttpError(415, `Content-Type must be ${types.join(' or ')}`, {
            contentType: req.headers['content-type'] ?? null,
          }),
        );
      } else next();
    },
    ...parsers,
  ];
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  message: string;
}

export function notFound(): RequestHandler {
  return (req, _res, next) => next(new HttpError(404, `No route for ${req.method} ${req.path}`));
}

/** The one place errors become responses: clients always get JSON, and only true faults are 5xx. */
export function errorHandler(
  logger: Logger,
  classify: (error: unknown) => HttpError | undefined = () => undefined,
): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const known = toHttpError(error) ?? classify(error);
    if (known) {
      res
        .status(known.status)
        .set(known.headers)
        .json({ error: known.message, ...known.details });
      return;
    }
    requestLogger(res, logger).error({ err: error }, 'unhandled error');
    res.status(500).json({ error: 'Internal error' });
  };
}

/** An HttpError as it is, or the one a body parser's error stands for; undefined for anything else. */
export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  const parserError = error as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new HttpError(400, `Malformed JSON: ${parserError.message}`);
    case 'entity.too.large':
      return new HttpError(413, 'Request body is larger than the configured limit');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, parserError.message);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new HttpError(400, parserError.message);
    default:
      // The parser's other client errors carry no type, e.g. a gzip body that does not inflate.
      if (
        parserError?.expose === true &&
        typeof parserError.status === 'number' &&
        parserError.status >= 400 &&
        parserError.status < 500
      ) {
        return new HttpError(parserError.status, parserError.message);
      }
      return undefined;
  }
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections, lets requests in flight finish, then drops idle keep-alive sockets. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
