import { join } from 'node:path';
import type { RedisClient } from '../redis-client';
import { RedisScript } from '../redis-script';

const rateLimitScript = RedisScript.load(join(__dirname, 'rate-limit.lua'));

export interface RateLimit {
  readonly eventsPerSecond: number;
  /** Events an idle bucket admits at once; also the largest cost one request may have. */
  readonly burst: number;
}

export interface RateLimitCharge {
  readonly key: string;
  readonly cost: number;
}

/** Builds the script's KEYS and ARGV; pure, so the exact arguments are unit-tested. */
export function rateLimitArguments(charges: readonly RateLimitCharge[], limit: RateLimit) {
  return {
    keys: charges.map((charge) => charge.key),
    args: [
      String(1_000_000 / limit.eventsPerSecond),
      String(limit.burst),
      ...charges.map((charge) => String(charge.cost)),
    ],
  };
}

/**
 * Charges every bucket its cost in one atomic step on the server's clock, so processes and replicas
 * share one budget and clock skew between them does not matter. Resolves to 0 when admitted (and
 * charged), else to the milliseconds to wait before the same request would be admitted; a refused
 * request charges nothing. A cost above the burst is never admitted: callers refuse it first.
 */
export async function chargeRateLimit(
  client: RedisClient,
  charges: readonly RateLimitCharge[],
  limit: RateLimit,
): Promise<number> {
  if (charges.length === 0) return 0;
  const call = rateLimitArguments(charges, limit);
  return Number(await rateLimitScript.run(client, call.keys, call.args));
}
