import type { RequestHandler } from 'express';
import { requireBearerToken, type Logger } from '@redis-ingest/service-kit';
import type { QueryConfig } from './config';

export interface QueryAccess {
  /** Guards every read route: the read or the admin token. */
  readonly read: RequestHandler;
  /** Guards what changes data (dead-letter replay and delete): the admin token alone. */
  readonly admin: RequestHandler;
}

const REALM = 'query';

/**
 * Reads need QUERY_READ_TOKEN when it is set, and the admin token opens them too. Admin routes need
 * QUERY_ADMIN_TOKEN when it is set, and otherwise whatever reads need: they are never more open
 * than the data they act on.
 */
export function queryAccess({ readToken, adminToken }: Pick<QueryConfig, 'readToken' | 'adminToken'>): QueryAccess {
  const read = requireBearerToken({
    realm: REALM,
    accepted: readToken === undefined ? [] : [readToken, ...(adminToken === undefined ? [] : [adminToken])],
  });
  if (adminToken === undefined) return { read, admin: read };
  return {
    read,
    admin: requireBearerToken({
      realm: REALM,
      accepted: [adminToken],
      insufficient: readToken === undefined ? [] : [readToken],
    }),
  };
}

/** Says at start-up which routes anyone may use; never logs a token. */
export function warnAboutOpenRoutes(
  { readToken, adminToken }: Pick<QueryConfig, 'readToken' | 'adminToken'>,
  logger: Logger,
): void {
  if (readToken === undefined) {
    logger.warn({ variable: 'QUERY_READ_TOKEN' }, 'no read token: anyone who reaches the port may read the telemetry');
  }
  if (adminToken === undefined) {
    logger.warn(
      { variable: 'QUERY_ADMIN_TOKEN' },
      readToken === undefined
        ? 'no admin token: anyone who reaches the port may replay and delete dead letters'
        : 'no admin token: the read token also replays and deletes dead letters',
    );
  }
}
