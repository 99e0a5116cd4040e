import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-client';
import { classifyRedisError } from './redis-errors';

/**
 * A Lua script sent by digest. The server's script cache is empty after a restart or a failover, so
 * a NOSCRIPT reply falls back to EVAL once, which also caches the script again.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  static fromFile(path: string): LuaScript {
    return new LuaScript(path.replace(/^.*\//, ''), readFileSync(path, 'utf8'));
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', this.sha, ...tail]);
    } catch (error) {
      if (classifyRedisError(error) !== 'noscript') throw error;
      return client.sendCommand(['EVAL', this.source, ...tail]);
    }
  }
}
