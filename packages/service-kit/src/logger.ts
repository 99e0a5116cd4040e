import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    // Tokens and keys must never reach a log line, whatever object a caller passes.
    redact: {
      paths: ['req.headers.authorization', '*.authorization', '*.token', '*.password', '*.key'],
      censor: '[redacted]',
    },
  });
}
