import { createClient } from '@redis/client';
import { startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { positionsBySlot, type RedisClient } from '../redis-client';
import { keySlot } from './key-slot';

describe('keySlot', () => {
  it('is the CRC16/XMODEM check value for the standard check input', () => {
    // 0x31C3, the published check value of CRC16/XMODEM for "123456789".
    expect(keySlot('123456789')).toBe(0x31c3);
  });

  it('hashes only a non-empty hash tag', () => {
    expect(keySlot('series:{temp:sensor-1}:raw')).toBe(keySlot('{temp:sensor-1}'));
    expect(keySlot('series:{temp:sensor-1}:avg:60000')).toBe(keySlot('temp:sensor-1'));
  });

  it('groups positions by slot, in input order', () => {
    const cluster = { slotOf: keySlot };
    expect(positionsBySlot(cluster, ['a{x}', 'b{y}', 'c{x}', 'd{y}', 'e{z}'])).toEqual([[0, 2], [1, 3], [4]]);
    expect(positionsBySlot(cluster, [])).toEqual([]);
    // A standalone server answers one slot for every key, so every position shares one group.
    expect(positionsBySlot({ slotOf: () => 0 }, ['a{x}', 'b{y}', 'c{x}'])).toEqual([[0, 1, 2]]);
  });

  describe('against CLUSTER KEYSLOT', () => {
    let server: RedisServer;
    let client: RedisClient;
    beforeAll(async () => {
      server = await startRedisServer({ args: ['--cluster-enabled', 'yes'] });
      client = createClient({ url: server.url, RESP: 2 }) as unknown as RedisClient;
      await client.connect();
    });
    afterAll(async () => {
      client.destroy();
      await server.stop();
    });

    it('agrees for plain keys, hash tags, empty and unclosed tags, and non-ASCII keys', async () => {
      const keys = [
        '',
        'a',
        'foo',
        'bar',
        'hello',
        '123456789',
        'series:{temp:sensor-1}:raw',
        'series:{temp:sensor-1}:max:3600000',
        'test:abc:{m0:device-17}:raw',
        '{user1000}.following',
        'foo{}{bar}',
        'foo{{bar}}zap',
        'foo{bar}{zap}',
        '{',
        '}',
        '{}',
        'x{y',
        'x}y{z}',
        'température:{capteur-é}',
        '設備:{温度}',
        '\u{1F321}{\u{1F525}}',
        ...Array.from({ length: 200 }, (_, i) => `series:{m${i % 7}:device-${i * 7919}}:raw`),
      ];
      const slots = await Promise.all(keys.map((key) => client.sendCommand(['CLUSTER', 'KEYSLOT', key])));
      expect(keys.map(keySlot)).toEqual(slots);
    });
  });
});
