import type { RedisClient } from '@redis-ingest/redis-schema';

export interface SlowCalls {
  /** Calls Redis took longer than the threshold for; null where the server refused CONFIG or SLOWLOG. */
  readonly slowCalls: number | null;
  readonly slowestCallMs: number | null;
}

type SlowLogEntry = [id: number, at: number, micros: number, ...rest: unknown[]];

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
      const [, threshold] = (await client.sendCommand(['CONFIG', 'GET', 'slowlog-log-slower-than'])) as unknown as [
        string,
        string,
      ];
      const [, length] = (await client.sendCommand(['CONFIG', 'GET', 'slowlog-max-len'])) as unknown as [
        string,
        string,
      ];
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
    if (!this.restore) return { slowCalls: null, slowestCallMs: null };
    const entries = (await this.client.sendCommand(['SLOWLOG', 'GET', '-1'])) as unknown as SlowLogEntry[];
    return {
      slowCalls: entries.length,
      slowestCallMs: Math.max(0, ...entries.map(([, , micros]) => Number(micros) / 1_000)),
    };
  }

  async close(): Promise<void> {
    if (!this.restore) return;
    const [threshold, length] = this.restore;
    await this.client.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', threshold, 'slowlog-max-len', length]);
  }
}
