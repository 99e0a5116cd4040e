import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RedisClient } from './redis-client';
import { classifyRedisError } from './redis-errors';

/** What a script may be given at load time: numbers, strings, and tables of them. */
export type LuaValue = number | string | boolean | readonly LuaValue[] | { readonly [name: string]: LuaValue };

export interface ScriptLoadOptions {
  /**
   * Lua values bound as locals ahead of the script, e.g. a store's configuration: fixed for the
   * script's life, they stay out of every call's arguments, whose encoding and parsing is a large
   * share of a short call's cost on both ends. Each set of values is a script (and digest) of its own.
   */
  readonly constants?: Readonly<Record<string, LuaValue>>;
}

/** Where `--@include <name>` finds `<name>.lua`: helpers shared by several scripts. */
const INCLUDES_DIR = join(__dirname, 'lua-includes');
const INCLUDE = /^--@include\s+(\S+)\s*$/gm;
/** `<name>-<keys>.lua` takes exactly that many keys; `<name>.lua` as many as a call names. */
const FILE_NAME = /^(.*?)(?:-(\d+))?\.lua$/;
const IDENTIFIER = /^[A-Za-z_]\w*$/;

function luaName(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`${name} is no Lua identifier`);
  return name;
}

/** Quotes, backslashes and control characters as decimal escapes, whose three digits stay unambiguous whatever follows. */
function luaCharacter(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x20 || char === '\\' || char === "'" ? `\\${String(code).padStart(3, '0')}` : char;
}

/** The Lua source of `value`, a literal the script reads as it is. */
export function luaLiteral(value: LuaValue): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} has no Lua literal`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `'${[...value].map(luaCharacter).join('')}'`;
  if (Array.isArray(value)) return `{ ${value.map(luaLiteral).join(', ')} }`;
  const fields = Object.entries(value as { readonly [name: string]: LuaValue }).map(
    ([name, field]) => `${luaName(name)} = ${luaLiteral(field)}`,
  );
  return `{ ${fields.join(', ')} }`;
}

/** Replaces each `--@include` line with its helper, once per script however often it is asked for. */
function expandIncludes(source: string, included = new Set<string>()): string {
  return source.replace(INCLUDE, (_line, name: string) => {
    if (included.has(name)) return '';
    included.add(name);
    return expandIncludes(readFileSync(join(INCLUDES_DIR, `${name}.lua`), 'utf8'), included).trimEnd();
  });
}

/** The constants go after a shebang line (`#!lua flags=...`), which must stay the first. */
function withConstants(source: string, constants: Readonly<Record<string, LuaValue>> | undefined): string {
  if (constants === undefined) return source;
  const prologue = Object.entries(constants)
    .map(([name, value]) => `local ${luaName(name)} = ${luaLiteral(value)}\n`)
    .join('');
  if (!source.startsWith('#!')) return prologue + source;
  const lineEnd = source.indexOf('\n') + 1;
  return source.slice(0, lineEnd) + prologue + source.slice(lineEnd);
}

/**
 * A Lua script, sent by digest. Every script of the project is a `.lua` file loaded by
 * RedisScript.load, which resolves its includes and constants once, at load time.
 *
 * On a cluster a call goes where its first key lives (the cluster client routes EVALSHA and EVAL by
 * it), so every key of one call must share a slot (RedisClient.slotOf). A node's script cache is
 * empty after a restart and on a replica promoted in a failover, so a NOSCRIPT reply falls back to
 * EVAL once, which caches the script on that node again: a SCRIPT LOAD would go to every primary,
 * and fail while any of them is unreachable.
 */
export class RedisScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
    /** The keys every call names; undefined when a call decides. */
    readonly keyCount?: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Loads `<name>[-<keys>].lua` from `path`, with its includes and `options.constants`. */
  static load(path: string, options: ScriptLoadOptions = {}): RedisScript {
    const [, name, keys] = FILE_NAME.exec(basename(path)) ?? [];
    if (name === undefined) throw new Error(`${path} is not a .lua file`);
    const source = withConstants(expandIncludes(readFileSync(path, 'utf8')), options.constants);
    return new RedisScript(name, source, keys === undefined ? undefined : Number(keys));
  }

  /** Caches the script on every primary ahead of the first call, so a SCRIPT LOAD failure shows at start-up. */
  async preload(client: Pick<RedisClient, 'sendCommand'>): Promise<void> {
    await client.sendCommand(['SCRIPT', 'LOAD', this.source]);
  }

  async run(
    client: Pick<RedisClient, 'sendCommand'>,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<unknown> {
    if (this.keyCount !== undefined && keys.length !== this.keyCount)
      throw new Error(`${this.name} takes ${this.keyCount} keys, not ${keys.length}`);
    const command = ['EVALSHA', this.sha, String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(arg);
    try {
      return await client.sendCommand(command);
    } catch (error) {
      if (classifyRedisError(error) !== 'noscript') throw error;
      command[0] = 'EVAL';
      command[1] = this.source;
      return client.sendCommand(command);
    }
  }
}
