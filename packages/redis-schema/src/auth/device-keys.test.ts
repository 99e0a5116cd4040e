import { createClient } from '@redis/client';
import { randomBytes } from 'node:crypto';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { createAccessKeys } from '../keys';
import type { RedisClient } from '../redis-client';
import {
  DeviceKeyExistsError,
  DeviceKeyStore,
  DeviceKeyVerifier,
  mayWrite,
  parseSources,
  parseToken,
} from './device-keys';

describe('parseToken', () => {
  const secret = randomBytes(32).toString('base64url');

  it('splits a key id from a 32-byte base64url secret', () => {
    expect(parseToken(`dev-1.${secret}`)).toEqual({ keyId: 'dev-1', secret });
  });

  it.each([
    ['no dot', `dev1${secret}`],
    ['an empty key id', `.${secret}`],
    ['a short secret', 'dev-1.abc'],
    ['a padded secret', `dev-1.${secret}=`],
    ['a key id with a colon', `a:b.${secret}`],
    ['a second dot', `dev.1.${secret}`],
  ])('refuses %s', (_, token) => {
    expect(parseToken(token)).toBeUndefined();
  });
});

describe('parseSources', () => {
  it('trims, drops empties and repeats', () => {
    expect(parseSources(' a, b,,a ')).toEqual(['a', 'b']);
    expect(parseSources('*')).toEqual(['*']);
  });

  it.each([[''], ['*,a'], ['a b'], ['a:b']])('refuses %j', (list) => {
    expect(() => parseSources(list)).toThrow();
  });

  it('grants a source by name or through *', () => {
    expect(mayWrite(['a'], 'a')).toBe(true);
    expect(mayWrite(['a'], 'b')).toBe(false);
    expect(mayWrite(['*'], 'b')).toBe(true);
  });
});

describe('device keys in a live Redis', () => {
  const client = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
  let keys: ReturnType<typeof createAccessKeys>;
  let store: DeviceKeyStore;

  beforeAll(() => client.connect());
  afterAll(() => client.destroy());
  beforeEach(() => {
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    keys = createAccessKeys({ deviceKeysKey: `${prefix}:device-keys`, rateLimitPrefix: `${prefix}:rate` });
    store = new DeviceKeyStore(client, keys);
  });

  it('stores only a hash of the secret, and lists keys without it', async () => {
    const token = await store.add('dev-1', ['a', 'b'], new Date('2026-03-01T00:00:00Z'));
    const secret = parseToken(token)!.secret;
    const stored = await client.hGet(keys.deviceKeys, 'dev-1');
    expect(stored).not.toContain(secret);
    expect(JSON.parse(stored!)).toEqual({
      secretSha256: expect.any(String),
      sources: ['a', 'b'],
      createdAt: '2026-03-01T00:00:00.000Z',
    });
    expect(await store.list()).toEqual([
      { keyId: 'dev-1', sources: ['a', 'b'], createdAt: '2026-03-01T00:00:00.000Z' },
    ]);
  });

  it('refuses to replace a key, and bad ids or sources', async () => {
    await store.add('dev-1', ['*']);
    await expect(store.add('dev-1', ['*'])).rejects.toThrow(DeviceKeyExistsError);
    await expect(store.add('a:b', ['*'])).rejects.toThrow(/key id/);
    await expect(store.add('dev-2', ['a b'])).rejects.toThrow(/source/);
    expect(await store.count()).toBe(1);
  });

  it('verifies the token it issued, and nothing else', async () => {
    const verifier = new DeviceKeyVerifier(store, { cacheMs: 0 });
    const token = await store.add('dev-1', ['a']);
    const other = await store.add('dev-2', ['a']);
    expect(await verifier.verify(token)).toEqual({ keyId: 'dev-1', sources: ['a'], createdAt: expect.any(String) });
    // dev-2's secret under dev-1's id.
    expect(await verifier.verify(`dev-1.${parseToken(other)!.secret}`)).toBeUndefined();
    expect(await verifier.verify(`dev-3.${parseToken(token)!.secret}`)).toBeUndefined();
    expect(await verifier.verify('garbage')).toBeUndefined();
  });

  it('ignores a field that is not a record', async () => {
    await client.hSet(keys.deviceKeys, 'dev-x', '{"secretSha256":"short","sources":["*"],"createdAt":"x"}');
    await client.hSet(keys.deviceKeys, 'dev-y', 'not json');
    const verifier = new DeviceKeyVerifier(store, { cacheMs: 0 });
    expect(await verifier.verify(`dev-x.${randomBytes(32).toString('base64url')}`)).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('keeps trusting what it read for cacheMs, then sees revocations and new keys', async () => {
    let now = 1_000;
    const verifier = new DeviceKeyVerifier(store, { cacheMs: 5_000, now: () => now });
    expect(await verifier.anyKeys()).toBe(false);
    const token = await store.add('dev-1', ['*']);
    expect(await verifier.anyKeys()).toBe(false);
    expect(await verifier.verify(token)).toBeDefined();
    await store.revoke('dev-1');
    now += 4_999;
    expect(await verifier.verify(token)).toBeDefined();
    expect(await verifier.anyKeys()).toBe(false);
    now += 1;
    expect(await verifier.verify(token)).toBeUndefined();
    expect(await verifier.anyKeys()).toBe(false);
    await store.add('dev-2', ['*']);
    now += 5_000;
    expect(await verifier.anyKeys()).toBe(true);
  });

  it('keeps its last answers while Redis is unreachable, and cannot answer what it never read', async () => {
    const token = await store.add('dev-1', ['a']);
    const lost = createClient({ url: testRedisUrl(), RESP: 2 }) as unknown as RedisClient;
    await lost.connect();
    let now = 1_000;
    const verifier = new DeviceKeyVerifier(new DeviceKeyStore(lost, keys), { cacheMs: 5_000, now: () => now });
    expect(await verifier.verify(token)).toBeDefined();
    expect(await verifier.anyKeys()).toBe(true);
    lost.destroy();
    now += 5_000;
    expect(await verifier.verify(token)).toEqual({ keyId: 'dev-1', sources: ['a'], createdAt: expect.any(String) });
    expect(await verifier.anyKeys()).toBe(true);
    await expect(verifier.verify(`dev-2.${randomBytes(32).toString('base64url')}`)).rejects.toThrow();
  });

  it('bounds the cache, dropping the oldest key id first', async () => {
    const token = await store.add('dev-1', ['*']);
    const verifier = new DeviceKeyVerifier(store, { cacheMs: 60_000, maxEntries: 2 });
    expect(await verifier.verify(token)).toBeDefined();
    await store.revoke('dev-1');
    // Two made-up ids push dev-1 out, so its revocation shows at once.
    await verifier.verify(`x1.${randomBytes(32).toString('base64url')}`);
    await verifier.verify(`x2.${randomBytes(32).toString('base64url')}`);
    expect(await verifier.verify(token)).toBeUndefined();
  });
});
