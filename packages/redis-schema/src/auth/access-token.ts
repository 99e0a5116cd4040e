import { ConfigError, readOptionalString, type Env } from '../env';

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
  if (!ACCESS_TOKEN.test(token))
    throw new ConfigError(name, 'expected 16 to 512 visible ASCII characters without spaces');
  return token;
}
