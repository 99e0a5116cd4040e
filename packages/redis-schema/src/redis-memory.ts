import type { RedisClient } from './redis-client';
import { classifyRedisError } from './redis-errors';

/** The fields of an INFO reply, `name:value` lines under `# Section` headings. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** What INFO memory tells about one node's memory limit. */
export interface RedisMemory {
  readonly usedBytes: number;
  /** 0 when maxmemory is not set: the node grows until the machine runs out. */
  readonly maxBytes: number;
  readonly policy: string;
}

export function memoryFromInfo(text: string): RedisMemory {
  const fields = parseInfo(text);
  return {
    usedBytes: Number(fields.get('used_memory') ?? 0),
    maxBytes: Number(fields.get('maxmemory') ?? 0),
    policy: fields.get('maxmemory_policy') ?? 'unknown',
  };
}

/** INFO memory of the node holding `key`. */
export async function readRedisMemory(client: RedisClient, key: string): Promise<RedisMemory> {
  return memoryFromInfo(String(await client.sendToNodeOf(key, ['INFO', 'memory'])));
}

/**
 * What a maxmemory-policy may delete under memory pressure. `allkeys-*` may delete any key: the
 * stream with entries not yet processed, pending lists, series, device keys. `volatile-*` deletes
 * only keys with a TTL: idempotency records (a retried event is then appended twice) and rate-limit
 * buckets. `noeviction` refuses writes instead, which the services answer with 503.
 */
export type EvictionRisk = 'none' | 'keys-with-ttl' | 'any-key';

export function evictionRisk(policy: string): EvictionRisk {
  if (policy.startsWith('allkeys-')) return 'any-key';
  if (policy.startsWith('volatile-')) return 'keys-with-ttl';
  return 'none';
}

/** Used memory above `maxRatio` of maxmemory on the node a write goes to; nothing was written. */
export class MemoryPressureError extends Error {
  constructor(
    readonly usedBytes: number,
    readonly maxBytes: number,
    readonly maxRatio: number,
  ) {
    super(
      `Redis uses ${usedBytes} of its ${maxBytes} bytes of maxmemory, above the share of ${maxRatio} left to ingest`,
    );
    this.name = 'MemoryPressureError';
  }
}

interface Sample {
  memory: RedisMemory | undefined;
  readAtMs: number;
  reading: boolean;
}

/** Reports, once, that INFO is refused and the guard is off. */
export type GuardOffNotice = (error: unknown) => void;

/**
 * Keeps writes below a share of Redis' maxmemory without a round trip of their own: check() answers
 * from the last INFO memory of the node a write goes to, and starts a fresh one in the background
 * once that is older than `intervalMs`. So a burst can overshoot by what arrives in one interval,
 * which the rest of maxmemory must hold (see the README on sizing). Nodes without maxmemory are
 * never refused. Where INFO is not allowed (an ACL, a managed Redis) the guard says so once and
 * checks nothing from then on.
 */
export class MemoryGuard {
  private readonly samples = new Map<number, Sample>();
  private off = false;

  constructor(
    private readonly client: RedisClient,
    private readonly maxRatio: number,
    private readonly onRefused: GuardOffNotice,
    private readonly intervalMs = 1_000,
  ) {}

  /** Throws MemoryPressureError when a node holding one of `keys` was last seen above the ratio. */
  check(keys: readonly string[]): void {
    if (this.maxRatio === 0 || this.off) return;
    const checked = new Set<number>();
    for (const key of keys) {
      // Keys of one slot share a node, and a standalone server answers one slot for all of them.
      const slot = this.client.slotOf(key);
      if (checked.has(slot)) continue;
      checked.add(slot);
      const memory = this.sample(slot, key);
      if (memory !== undefined && memory.maxBytes > 0 && memory.usedBytes >= memory.maxBytes * this.maxRatio) {
        throw new MemoryPressureError(memory.usedBytes, memory.maxBytes, this.maxRatio);
      }
    }
  }

  private sample(slot: number, key: string): RedisMemory | undefined {
    let sample = this.samples.get(slot);
    if (sample === undefined) this.samples.set(slot, (sample = { memory: undefined, readAtMs: 0, reading: false }));
    const now = Date.now();
    if (!sample.reading && now - sample.readAtMs >= this.intervalMs) {
      const current = sample;
      current.reading = true;
      current.readAtMs = now;
      readRedisMemory(this.client, key)
        .then((memory) => {
          current.memory = memory;
        })
        .catch((error: unknown) => this.refused(error))
        .finally(() => {
          current.reading = false;
        });
    }
    return sample.memory;
  }

  private refused(error: unknown): void {
    // A Redis that is unreachable or busy now will answer later; the writes themselves fail meanwhile.
    if (isPermanentRefusal(error)) {
      this.off = true;
      this.onRefused(error);
    }
  }
}

function isPermanentRefusal(error: unknown): boolean {
  const kind = classifyRedisError(error);
  return kind === 'noperm' || kind === 'other';
}
