import type { RedisClient } from '@redis-ingest/redis-schema';
import { redisConfigValue } from './ceiling';

export interface SlowCalls {
  /** Script calls Redis took longer than the threshold for; null where the server refused CONFIG or SLOWLOG. */
  readonly slowScriptCalls: number | null;
  readonly slowestScriptCallMs: number | null;
  /**
   * Every other command over the threshold. A plain XADD or ZADD never does that much work, so these
   * say the server was off the CPU, which stretches any call that was running, script or not.
   */
  readonly slowOtherCalls: number | null;
  readonly slowestOtherCallMs: number | null;
}

/** An entry of SLOWLOG GET: id, unix time, microseconds, then the command's arguments. */
export type SlowLogEntry = [id: number, at: number, micros: number, args: readonly unknown[], ...rest: unknown[]];

const SCRIPT_COMMANDS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/** Sorts the slow log into script calls and the rest, with the slowest of each. */
export function classifySlowCalls(entries: readonly SlowLogEntry[]): SlowCalls {
  const scriptMs: number[] = [];
  const otherMs: number[] = [];
  for (const [, , micros, args] of entries) {
    const command = String(args[0] ?? '').toUpperCase();
    (SCRIPT_COMMANDS.has(command) ? scriptMs : otherMs).push(Number(micros) / 1_000);
  }
  return {
    slowScriptCalls: scriptMs.length,
    slowestScriptCallMs: Math.max(0, ...scriptMs),
    slowOtherCalls: otherMs.length,
    slowestOtherCallMs: Math.max(0, ...otherMs),
  };
}

const UNAVAILABLE: SlowCalls = {
  slowScriptCalls: null,
  slowestScriptCallMs: null,
  slowOtherCalls: null,
  slowestOtherCallMs: null,
};

/**
 * Redis' slow log set to a threshold for one phase, then put back as it was. A managed Redis may
 * refuse CONFIG; the phase then reports no slow-call figures rather than failing.
 */
export class SlowLog {
  private constructor(
    private readonly client: RedisClient,
    private readonly restore: [threshold: string, length: string] | undefined,
  ) {}

  static async open(client: RedisClient, thresholdMicros: number): Promise<SlowLog> {
    try {
      const threshold = await redisConfigValue(client, 'slowlog-log-slower-than');
      const length = await redisConfigValue(client, 'slowlog-max-len');
      await client.sendCommand([
        'CONFIG',
        'SET',
        'slowlog-log-slower-than',
        String(thresholdMicros),
        'slowlog-max-len',
        '10000',
      ]);
      await client.sendCommand(['SLOWLOG', 'RESET']);
      return new SlowLog(client, [threshold, length]);
    } catch {
      return new SlowLog(client, undefined);
    }
  }

  async read(): Promise<SlowCalls> {
    if (!this.restore) return UNAVAILABLE;
    const entries = (await this.client.sendCommand(['SLOWLOG', 'GET', '-1'])) as unknown as SlowLogEntry[];
    return classifySlowCalls(entries);
  }

  async close(): Promise<void> {
    if (!this.restore) return;
    const [threshold, length] = this.restore;
    await this.client.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', threshold, 'slowlog-max-len', length]);
  }
}
