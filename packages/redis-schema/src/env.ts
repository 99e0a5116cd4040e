/** Raised for a configuration variable that is present but unusable; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export interface IntegerBounds {
  min?: number;
  max?: number;
}

export function readInteger(env: Env, name: string, fallback: number, bounds: IntegerBounds = {}): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (!/^-?\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got "${text}"`);
  const value = Number(text);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${text}`);
  }
  return value;
}

/** A share from 0 to 1 such as 0.9. */
export function readFraction(env: Env, name: string, fallback: number): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || value > 1) throw new ConfigError(name, `expected a number from 0 to 1, got "${text}"`);
  return value;
}

export function readChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new ConfigError(name, `expected one of ${choices.join(', ')}, got "${text}"`);
  }
  return text as T;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name)?.toLowerCase();
  if (text === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(name, `expected true or false, got "${text}"`);
}

export function readUrl(env: Env, name: string, fallback: string, protocols: readonly string[]): string {
  const text = readString(env, name, fallback);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, `expected a URL, got "${text}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${url.protocol}"`);
  }
  return text;
}

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

/** Visible ASCII only, as a Bearer header carries it, and long enough not to be guessed. */
const ACCESS_TOKEN = /^[\x21-\x7e]{16,512}$/;

/**
 * A bearer token the service requires, or undefined to run those routes open. Production refuses to
 * run without one, where open routes would be a mistake.
 */
export function readAccessToken(env: Env, name: string, production: boolean): string | undefined {
  const token = readOptionalString(env, name);
  if (token === undefined) {
    if (production) throw new ConfigError(name, 'must be set with NODE_ENV=production');
    return undefined;
  }
  if (!ACCESS_TOKEN.test(token)) throw new ConfigError(name, 'expected 16 to 512 visible ASCII characters without spaces');
  return token;
}
