import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether `given` is `expected`, in a time that tells nothing about either: both are hashed to the
 * same length first, so neither their contents nor their lengths leak through the comparison.
 */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function unauthorized(realm: string, message: string, error?: 'invalid_request' | 'invalid_token'): HttpError {
  const challenge = error === undefined ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${error}"`;
  return new HttpError(401, message, {}, { 'WWW-Authenticate': challenge });
}

export interface TokenGate {
  /** Names the protected area in the WWW-Authenticate challenge. */
  readonly realm: string;
  /** Tokens that open the routes behind the gate; none leaves them open. */
  readonly accepted: readonly string[];
  /** Tokens valid elsewhere in the service but not enough here: 403 instead of 401. */
  readonly insufficient?: readonly string[];
}

/**
 * Admits a request whose `Authorization: Bearer <token>` is one of `accepted`, and answers 401 (no or
 * an unknown token) or 403 (a token of a lesser level) otherwise. Mount it before any body parser, so
 * an unauthenticated client cannot make the server read a body.
 */
export function requireBearerToken({ realm, accepted, insufficient = [] }: TokenGate): RequestHandler {
  return (req, _res, next) => {
    if (accepted.length === 0) return next();
    const header = req.get('authorization');
    if (header === undefined) throw unauthorized(realm, 'A token is required: Authorization: Bearer <token>');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw unauthorized(realm, 'Authorization must be "Bearer <token>"', 'invalid_request');
    const token = match[1]!;
    // Every configured token is compared, so the time taken does not say which one came close.
    const admitted = accepted.map((expected) => tokenMatches(token, expected)).includes(true);
    if (admitted) return next();
    if (insufficient.map((expected) => tokenMatches(token, expected)).includes(true)) {
      throw new HttpError(403, 'This token may not use this route');
    }
    throw unauthorized(realm, 'Unknown token', 'invalid_token');
  };
}
