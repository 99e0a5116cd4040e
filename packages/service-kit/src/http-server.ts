import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpServerLimits {
  /** Time a client has to send the complete request head; a byte-by-byte sender is cut off at this. */
  readonly headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** Largest request head (request line and headers) in bytes; larger ones get 431. */
  readonly maxHeaderBytes: number;
}

/** What Node's HTTP parser refused, as the status a client should see. */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * Answers requests Node refuses before any handler runs (oversized or unparsable heads, timeouts) in
 * JSON like every other error, instead of Node's bodiless default.
 */
function answerClientError(
  error: NodeJS.ErrnoException,
  socket: Duplex & { _httpMessage?: { headersSent?: boolean } | null },
): void {
  // Nothing can be sent on a reset socket, or once the head of a response is out. Node's own handler
  // asks the same of the response the socket is serving now; bytes written earlier on a keep-alive
  // connection belong to responses that are complete.
  if (error.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus(error.code);
  const body = JSON.stringify({ error: STATUS_CODES[status] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * An HTTP server that a slow or greedy client cannot hold: heads and whole requests must arrive in
 * time, heads are bounded in size, and idle keep-alive connections close.
 */
export function createLimitedHttpServer(listener: RequestListener, limits: HttpServerLimits): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node enforces both timeouts only when it sweeps its connections (every 30 s by default), so a
      // limit of a few seconds would otherwise be exceeded many times over.
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    listener,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('clientError', answerClientError);
  return server;
}
