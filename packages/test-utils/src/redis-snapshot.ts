/** What redisSnapshot needs of a node-redis client. */
export interface ScanningClient {
  scanIterator(options: { COUNT: number }): AsyncIterable<string[]>;
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * Every key of the server with its serialized value (DUMP). Two equal snapshots mean nothing was
 * written in between, whichever keys and types a service uses; for suites on a private server.
 */
export async function redisSnapshot(redis: ScanningClient): Promise<Map<string, string>> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ COUNT: 1_000 })) keys.push(...batch);
  const values = await Promise.all(keys.map((key) => redis.sendCommand(['DUMP', key])));
  return new Map(keys.map((key, i) => [key, String(values[i])]));
}
