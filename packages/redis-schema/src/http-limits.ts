import { ConfigError, readInteger, type Env } from './env';

export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/** Each HTTP service's `<prefix>_HEADERS_TIMEOUT_MS`, `_REQUEST_TIMEOUT_MS`, `_KEEP_ALIVE_TIMEOUT_MS` and `_MAX_HEADER_BYTES`. */
export function readHttpLimits(env: Env, prefix: string): HttpLimits {
  const limits: HttpLimits = {
    headersTimeoutMs: readInteger(env, `${prefix}_HEADERS_TIMEOUT_MS`, 10_000, { min: 100, max: 600_000 }),
    requestTimeoutMs: readInteger(env, `${prefix}_REQUEST_TIMEOUT_MS`, 30_000, { min: 100, max: 3_600_000 }),
    keepAliveTimeoutMs: readInteger(env, `${prefix}_KEEP_ALIVE_TIMEOUT_MS`, 5_000, { min: 1, max: 600_000 }),
    maxHeaderBytes: readInteger(env, `${prefix}_MAX_HEADER_BYTES`, 16_384, { min: 1_024, max: 1_048_576 }),
  };
  // Node refuses a server whose whole-request timeout is shorter than its head timeout.
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new ConfigError(
      `${prefix}_REQUEST_TIMEOUT_MS`,
      `must be at least ${prefix}_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs})`,
    );
  }
  return limits;
}
