import type { Request, RequestHandler, Response } from 'express';
import {
  DeviceKeyStore,
  DeviceKeyVerifier,
  chargeRateLimit,
  createAccessKeys,
  mayWrite,
  type RateLimitCharge,
  type RedisClient,
  type TelemetryEvent,
} from '@redis-ingest/redis-schema';
import { HttpError, bearerToken, bearerUnauthorized } from '@redis-ingest/service-kit';
import type { IngestConfig } from './config';

/** Who sent a request: a verified device key, or nobody while ingest runs open. */
export type Caller = { readonly keyId: string; readonly sources: readonly string[] } | { readonly keyId: undefined };

const OPEN: Caller = { keyId: undefined };

const REALM = 'ingest';
const DEVICE_KEY_FORM = '<keyId>.<secret>';

const bearerHeader = (req: Request) => bearerToken(req.get('authorization'), REALM, DEVICE_KEY_FORM);

/**
 * The device key as Influx clients and Telegraf send it: `Token <key>` (v2) or `Bearer <key>`, or
 * as the password of basic credentials or of the `p` query parameter (v1); a v1 user name is ignored.
 */
export function influxToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) {
    const password = req.query.p;
    return typeof password === 'string' && password !== '' ? password : undefined;
  }
  const match = /^(Token|Bearer|Basic) +(\S+) *$/i.exec(header);
  if (!match)
    throw bearerUnauthorized(
      REALM,
      'Authorization must be "Token <keyId>.<secret>", "Bearer <keyId>.<secret>" or basic credentials with the key as password',
      'invalid_request',
    );
  if (match[1]!.toLowerCase() !== 'basic') return match[2];
  const credentials = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  if (colon === -1)
    throw bearerUnauthorized(REALM, 'Basic credentials must be "<user>:<keyId>.<secret>"', 'invalid_request');
  return credentials.slice(colon + 1);
}

function sourceCounts(events: readonly TelemetryEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { source } of events) counts.set(source, (counts.get(source) ?? 0) + 1);
  return counts;
}

/**
 * Who may write, which sources, and how fast. Authentication runs before the body is read, so an
 * unauthenticated client cannot make the server parse a megabyte; source checks and rate limits run
 * on the validated events.
 */
export class IngestAccess {
  private readonly keys;
  private readonly verifier: DeviceKeyVerifier;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: IngestConfig,
  ) {
    this.keys = createAccessKeys(config.accessKeys);
    this.verifier = new DeviceKeyVerifier(new DeviceKeyStore(redis, this.keys), { cacheMs: config.authCacheMs });
  }

  /** Whether requests need a device key: configured so, or since the first key was added. */
  async required(): Promise<boolean> {
    return this.config.authRequired || (await this.verifier.anyKeys());
  }

  /**
   * Sets the caller for `caller(res)`, or answers 401. A token is checked whenever one is sent, so a
   * misconfigured device learns of it even while ingest is open. `readToken` finds the key in the
   * request: a bearer token unless told otherwise.
   */
  authenticate(readToken: (req: Request) => string | undefined = bearerHeader): RequestHandler {
    return async (req, res, next) => {
      const token = readToken(req);
      if (token === undefined) {
        if (await this.required()) {
          throw bearerUnauthorized(REALM, `A device key is required: Authorization: Bearer ${DEVICE_KEY_FORM}`);
        }
        res.locals.caller = OPEN;
        return next();
      }
      const key = await this.verifier.verify(token);
      if (!key) throw bearerUnauthorized(REALM, 'Unknown, revoked or malformed device key', 'invalid_token');
      res.locals.caller = { keyId: key.keyId, sources: key.sources } satisfies Caller;
      next();
    };
  }

  caller(res: Response): Caller {
    return res.locals.caller as Caller;
  }

  /** 403 naming every source of the request the key may not write; the request is refused whole. */
  authorize(caller: Caller, events: readonly TelemetryEvent[]): void {
    if (caller.keyId === undefined) return;
    const forbidden = [...sourceCounts(events).keys()].filter((source) => !mayWrite(caller.sources, source));
    if (forbidden.length > 0) {
      throw new HttpError(403, `Device key ${caller.keyId} may not write these sources`, {
        forbiddenSources: forbidden.sort(),
      });
    }
  }

  /** Charges the events to the caller's budget (each source's while open), or answers 429 / 413. */
  async limit(caller: Caller, events: readonly TelemetryEvent[]): Promise<void> {
    const rateLimit = this.config.rateLimit;
    if (rateLimit === undefined || events.length === 0) return;
    const charges: RateLimitCharge[] =
      caller.keyId === undefined
        ? [...sourceCounts(events)].map(([source, cost]) => ({ key: this.keys.rateLimitBySource(source), cost }))
        : [{ key: this.keys.rateLimitByKey(caller.keyId), cost: events.length }];
    // A request over the burst could never be admitted; retrying it would only spin.
    if (charges.some((charge) => charge.cost > rateLimit.burst)) {
      throw new HttpError(413, `Under the rate limit a request may carry at most ${rateLimit.burst} events`, {
        burst: rateLimit.burst,
      });
    }
    const waitMs = await chargeRateLimit(this.redis, charges, rateLimit);
    if (waitMs > 0) {
      throw new HttpError(
        429,
        'Rate limit exceeded; retry later',
        { retryAfterMs: waitMs },
        { 'Retry-After': String(Math.ceil(waitMs / 1_000)) },
      );
    }
  }
}
