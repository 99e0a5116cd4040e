import { createClient } from '@redis/client';
import {
  reconnectDelay,
  tlsSocketOptions,
  type NodeRedisClient,
  type RedisClientOptions,
  type RedisTlsFiles,
  type RedisTopology,
} from './redis-client';

/** One server holds every key: any keys may share a command, and any connection speaks for the node. */
function standaloneTopology(client: NodeRedisClient): RedisTopology {
  return {
    singleNode: true,
    slotOf: () => 0,
    sendToNodeOf: <T>(_key: string, args: readonly string[]) => client.sendCommand(args) as Promise<T>,
  };
}

/** node-redis' client of one server, as it is, with the standalone topology added. */
export function createStandaloneClient(
  url: string,
  tls: RedisTlsFiles | undefined,
  { name, logger, connectTimeoutMs = 1_000 }: RedisClientOptions,
): NodeRedisClient & RedisTopology {
  const client = createClient({
    url,
    name,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelay, ...tlsSocketOptions(tls) },
  });
  let reported = false;
  client.on('error', (error: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (!reported) logger.warn({ err: error, connection: name }, 'redis connection error');
    reported = true;
  });
  client.on('ready', () => {
    reported = false;
  });
  return Object.assign(client, standaloneTopology(client));
}
