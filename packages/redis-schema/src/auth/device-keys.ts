import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessKeys } from '../keys';
import { isValidName } from '../names';
import type { RedisClient } from '../redis-client';
import { isTransientRedisError } from '../redis-errors';

/**
 * Device keys: a device sends `<keyId>.<secret>`; Redis keeps per key id only the SHA-256 of the
 * secret, so reading the hash does not hand out working tokens. The secret is 32 random bytes, so
 * one unsalted fast hash is enough: there is nothing to guess from a dictionary.
 */

/** Any source. */
export const ALL_SOURCES = '*';

const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET_BYTES = 32;
/** base64url of 32 bytes, without padding. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface DeviceKeyRecord {
  readonly keyId: string;
  /** Sources this key may write, or [ALL_SOURCES]. */
  readonly sources: readonly string[];
  readonly createdAt: string;
}

interface StoredRecord {
  readonly secretSha256: string;
  readonly sources: readonly string[];
  readonly createdAt: string;
}

export interface ParsedToken {
  readonly keyId: string;
  readonly secret: string;
}

export function isValidKeyId(keyId: string): boolean {
  return KEY_ID_PATTERN.test(keyId);
}

/** A comma-separated source list as a key's sources. */
export function parseSources(list: string): string[] {
  const sources = [
    ...new Set(
      list
        .split(',')
        .map((source) => source.trim())
        .filter((source) => source !== ''),
    ),
  ];
  checkSources(sources);
  return sources;
}

/** A key's sources are valid names, or `*` alone. */
function checkSources(sources: readonly string[]): void {
  if (sources.length === 0) throw new Error('a key needs at least one source, or * for any');
  if (sources.includes(ALL_SOURCES)) {
    if (sources.length > 1) throw new Error('* already means every source; give it alone');
    return;
  }
  const invalid = sources.filter((source) => !isValidName(source));
  if (invalid.length > 0) throw new Error(`not valid source names: ${invalid.join(', ')}`);
}

/** The key id and secret of a bearer token, or undefined when it cannot be one of ours. */
export function parseToken(token: string): ParsedToken | undefined {
  const dot = token.indexOf('.');
  if (dot < 0) return undefined;
  const keyId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  return isValidKeyId(keyId) && SECRET_PATTERN.test(secret) ? { keyId, secret } : undefined;
}

function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function mayWrite(sources: readonly string[], source: string): boolean {
  return sources.includes(ALL_SOURCES) || sources.includes(source);
}

type StoredKey = DeviceKeyRecord & { readonly secretSha256: Buffer };

/** A stored record, or undefined for a field that is not one (hand-edited, or written by something else). */
function decodeRecord(keyId: string, json: string): StoredKey | undefined {
  try {
    const stored = JSON.parse(json) as Partial<StoredRecord>;
    const hash = Buffer.from(String(stored.secretSha256), 'base64url');
    if (hash.length !== 32 || !Array.isArray(stored.sources) || typeof stored.createdAt !== 'string') return undefined;
    return { keyId, sources: stored.sources.map(String), createdAt: stored.createdAt, secretSha256: hash };
  } catch {
    return undefined;
  }
}

export class DeviceKeyExistsError extends Error {
  constructor(readonly keyId: string) {
    super(`device key ${keyId} already exists; revoke it first`);
    this.name = 'DeviceKeyExistsError';
  }
}

/** Reads and writes device keys in Redis, uncached: for the key tool and for DeviceKeyVerifier. */
export class DeviceKeyStore {
  constructor(
    /** Only hash commands on one key: any connection serves, whatever the topology. */
    private readonly client: Pick<RedisClient, 'hSetNX' | 'hDel' | 'hGetAll' | 'hLen' | 'hGet'>,
    private readonly keys: AccessKeys,
  ) {}

  /** Stores a new key and returns its token; the only time the secret exists outside the device. */
  async add(keyId: string, sources: readonly string[], now = new Date()): Promise<string> {
    if (!isValidKeyId(keyId)) throw new Error(`key id must be 1 to 64 of A-Z a-z 0-9 _ -, got "${keyId}"`);
    checkSources(sources);
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const record: StoredRecord = {
      secretSha256: sha256(secret).toString('base64url'),
      sources,
      createdAt: now.toISOString(),
    };
    const added = await this.client.hSetNX(this.keys.deviceKeys, keyId, JSON.stringify(record));
    if (!added) throw new DeviceKeyExistsError(keyId);
    return `${keyId}.${secret}`;
  }

  async revoke(keyId: string): Promise<boolean> {
    return (await this.client.hDel(this.keys.deviceKeys, keyId)) === 1;
  }

  async list(): Promise<DeviceKeyRecord[]> {
    const fields = await this.client.hGetAll(this.keys.deviceKeys);
    return Object.entries(fields)
      .flatMap(([keyId, json]) => {
        const record = decodeRecord(keyId, json);
        return record ? [{ keyId, sources: record.sources, createdAt: record.createdAt }] : [];
      })
      .sort((a, b) => a.keyId.localeCompare(b.keyId));
  }

  async count(): Promise<number> {
    return this.client.hLen(this.keys.deviceKeys);
  }

  async find(keyId: string): Promise<StoredKey | undefined> {
    const json = await this.client.hGet(this.keys.deviceKeys, keyId);
    return json == null ? undefined : decodeRecord(keyId, json);
  }
}

/** The key when the secret matches its stored hash; timingSafeEqual so the comparison leaks no prefix. */
function verifySecret(stored: StoredKey | undefined, secret: string): DeviceKeyRecord | undefined {
  if (!stored || !timingSafeEqual(sha256(secret), stored.secretSha256)) return undefined;
  return { keyId: stored.keyId, sources: stored.sources, createdAt: stored.createdAt };
}

export interface DeviceKeyCacheOptions {
  /** How long a looked-up key (or its absence) is trusted: a revoked key keeps working this long. */
  readonly cacheMs: number;
  /** Cached key ids at most, so tokens with made-up ids cannot grow the cache without bound. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface CacheEntry<T> {
  readonly loadedAtMs: number;
  readonly value: Promise<T>;
}

/** The lookup's answer, or the previous entry's when the lookup finds Redis unreachable. */
function orWhileUnreachable<T>(lookup: Promise<T>, previous: CacheEntry<T> | undefined): Promise<T> {
  if (previous === undefined) return lookup;
  return lookup.catch((error: unknown) => (isTransientRedisError(error) ? previous.value : Promise.reject(error)));
}

/**
 * Verifies tokens against the store, trusting what it read for `cacheMs`: a request costs a Redis
 * round trip only once per key id and period. Concurrent misses share one lookup, and a failed
 * lookup is not cached. A refresh that finds Redis unreachable keeps the answer it replaces for
 * another period: on a cluster the keys live on one shard, and its failover must not stop ingest on
 * the others (a key revoked meanwhile keeps working until the refresh succeeds).
 */
export class DeviceKeyVerifier {
  private readonly entries = new Map<string, CacheEntry<StoredKey | undefined>>();
  private keyCount: CacheEntry<number> | undefined;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly store: DeviceKeyStore,
    private readonly options: DeviceKeyCacheOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async verify(token: string): Promise<DeviceKeyRecord | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    return verifySecret(await this.cached(parsed.keyId), parsed.secret);
  }

  /** Whether any device key exists, refreshed as often as the keys themselves. */
  async anyKeys(): Promise<boolean> {
    if (!this.keyCount || this.expired(this.keyCount)) {
      const value = orWhileUnreachable(this.store.count(), this.keyCount);
      const entry = { loadedAtMs: this.now(), value };
      this.keyCount = entry;
      value.catch(() => {
        if (this.keyCount === entry) this.keyCount = undefined;
      });
    }
    return (await this.keyCount.value) > 0;
  }

  private expired(entry: CacheEntry<unknown>): boolean {
    return this.now() - entry.loadedAtMs >= this.options.cacheMs;
  }

  private cached(keyId: string): Promise<StoredKey | undefined> {
    const entry = this.entries.get(keyId);
    if (entry && !this.expired(entry)) return entry.value;
    this.entries.delete(keyId);
    // Maps iterate in insertion order, so the first entry is the oldest.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const value = orWhileUnreachable(this.store.find(keyId), entry);
    const fresh = { loadedAtMs: this.now(), value };
    this.entries.set(keyId, fresh);
    value.catch(() => {
      if (this.entries.get(keyId) === fresh) this.entries.delete(keyId);
    });
    return value;
  }
}
