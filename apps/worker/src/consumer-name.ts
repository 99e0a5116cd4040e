import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { NAME_MAX_LENGTH } from '@redis-ingest/redis-schema';

/** Room left for suffixes such as the drain's "-manual". */
const HOST_PART_MAX_LENGTH = NAME_MAX_LENGTH - 40;

/**
 * A consumer name no other process shares: the host and pid tell an operator where it runs, and the
 * random part keeps a restarted container (same host name, often pid 1) from inheriting the
 * pending entries of its predecessor under the same name.
 */
export function createConsumerName(host: string = hostname(), pid: number = process.pid): string {
  const safeHost = host.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, HOST_PART_MAX_LENGTH) || 'host';
  return `${safeHost}-${pid}-${randomBytes(4).toString('hex')}`;
}
