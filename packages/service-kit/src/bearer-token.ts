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

/** 401 with the `WWW-Authenticate: Bearer` challenge that tells the client which realm and what went wrong. */
export function bearerUnauthorized(
  realm: string,
  message: string,
  error?: 'invalid_request' | 'invalid_token',
): HttpError {
  const challenge = error === undefined ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${error}"`;
  return new HttpError(401, message, {}, { 'WWW-Authenticate': challenge });
}

/**
 * The token of an `Authorization: Bearer <token>` header: undefined without the header, 401 when it
 * has another shape. `form` shows the client what the token looks like.
 */
export function bearerToken(header: string | undefined, realm: string, form = '<token>'): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw bearerUnauthorized(realm, `Authorization must be "Bearer ${form}"`, 'invalid_request');
  return match[1];
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
    const token = bearerToken(req.get('authorization'), realm);
    if (token === undefined) throw bearerUnauthorized(realm, 'A token is required: Authorization: Bearer <token>');
    // Every configured token is compared, so the time taken does not say which one came close.
    const admitted = accepted.map((expected) => tokenMatches(token, expected)).includes(true);
    if (admitted) return next();
    if (insufficient.map((expected) => tokenMatches(token, expected)).includes(true)) {
      throw new HttpError(403, 'This token may not use this route');
    }
    throw bearerUnauthorized(realm, 'Unknown token', 'invalid_token');
  };
}
