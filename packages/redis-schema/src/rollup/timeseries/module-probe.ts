import type { RedisClient } from '../../redis-client';
import { classifyRedisError, redisErrorReason } from '../../redis-errors';
import { tsInfo } from './commands';
import { isTimeSeriesError, TIME_SERIES_ERRORS } from './replies';

const PROBE_KEY = '__redis-ingest-probe__';

/**
 * True when the server has the RedisTimeSeries module (Redis 8 and Redis Stack have it built in).
 * A module server answers TS.INFO on a missing key with "TSDB: the key does not exist", a plain
 * Redis with "unknown command". Anything else (no connection, NOPERM, LOADING) proves nothing, so
 * it is thrown rather than read as an answer.
 */
export async function hasTimeSeriesModule(client: RedisClient): Promise<boolean> {
  try {
    await client.sendCommand(tsInfo(PROBE_KEY));
    return true;
  } catch (error) {
    if (redisErrorReason(error)?.startsWith('unknown command')) return false;
    if (isTimeSeriesError(error, TIME_SERIES_ERRORS.keyMissing) || classifyRedisError(error) === 'wrongtype')
      return true;
    throw error;
  }
}
