import { join } from 'node:path';
import { RedisScript, luaLiteral } from './redis-script';

describe('luaLiteral', () => {
  it('writes numbers, strings, lists and tables as Lua reads them', () => {
    expect(luaLiteral({ retentionMs: 0, widths: [60_000, 3_600_000], name: 'avg', on: true })).toBe(
      "{ retentionMs = 0, widths = { 60000, 3600000 }, name = 'avg', on = true }",
    );
  });

  it('escapes quotes, backslashes and control characters with three-digit escapes', () => {
    expect(luaLiteral("it's\\\n1")).toBe("'it\\039s\\092\\0101'");
  });

  it('refuses what has no literal', () => {
    expect(() => luaLiteral(Number.NaN)).toThrow('no Lua literal');
    expect(() => luaLiteral({ 'not-a-name': 1 })).toThrow('no Lua identifier');
  });
});

describe('RedisScript.load', () => {
  it('takes the name and key count from the file name', () => {
    const fixed = RedisScript.load(join(__dirname, 'dead-letter-2.lua'));
    expect([fixed.name, fixed.keyCount]).toEqual(['dead-letter', 2]);
    const open = RedisScript.load(join(__dirname, 'ingest', 'append-events.lua'));
    expect([open.name, open.keyCount]).toEqual(['append-events', undefined]);
  });

  it('includes each shared helper once, helpers of helpers too, and keeps the shebang first', () => {
    const { source } = RedisScript.load(join(__dirname, 'ingest', 'append-events.lua'));
    expect(source.startsWith('#!lua\n')).toBe(true);
    expect(source).not.toMatch(/--@include/);
    expect(source.match(/local function consumerGroup\(/g)).toHaveLength(1);
    expect(source.match(/local function toFields\(/g)).toHaveLength(1);
    expect(source.indexOf('local function toFields(')).toBeLessThan(source.indexOf('local function consumerGroup('));
  });

  it('binds constants ahead of the script, after a shebang, each set giving a digest of its own', () => {
    const path = join(__dirname, 'auth', 'rate-limit.lua');
    const one = RedisScript.load(path, { constants: { CONFIG: { limit: 1 } } });
    const two = RedisScript.load(path, { constants: { CONFIG: { limit: 2 } } });
    expect(one.source.split('\n').slice(0, 2)).toEqual(['#!lua', 'local CONFIG = { limit = 1 }']);
    expect(one.sha).not.toBe(two.sha);
  });

  it('refuses a call naming another number of keys than the script takes', async () => {
    const script = RedisScript.load(join(__dirname, 'dead-letter-2.lua'));
    const client = { sendCommand: () => Promise.reject(new Error('not sent')) };
    await expect(script.run(client, ['only-one'], [])).rejects.toThrow('dead-letter takes 2 keys, not 1');
  });
});
