import type { RedisArgument } from '@redis/client';

/**
 * Where a Redis Cluster client sends a command given as raw arguments: to the primary of a key's
 * slot, to every primary, or to any one of them. Replicas are never read from: a replica lags its
 * primary, so it could miss an event the ingest API already acknowledged.
 */
export type CommandRoute =
  | { readonly to: 'slot'; readonly key: RedisArgument }
  /** Node-level state every primary must share (a script cache), or a check every primary must pass. */
  | { readonly to: 'every-primary' }
  /** A question any primary answers alike (modules are loaded on every node). */
  | { readonly to: 'any-primary' };

/** A command that a cluster client cannot route to the node whose answer it needs. */
export class ClusterRoutingError extends Error {
  constructor(command: string, reason: string) {
    super(`${command} cannot be sent through the cluster client: ${reason}`);
    this.name = 'ClusterRoutingError';
  }
}

const EVERY_PRIMARY: CommandRoute = { to: 'every-primary' };
const ANY_PRIMARY: CommandRoute = { to: 'any-primary' };

/** Keyless commands with a meaning on a cluster. */
const KEYLESS_ROUTES: Readonly<Record<string, CommandRoute>> = {
  // SCRIPT LOAD and FLUSH: every primary keeps its own script cache, and a promoted replica starts without one.
  SCRIPT: EVERY_PRIMARY,
  // Readiness: the deployment answers only when every shard does.
  PING: EVERY_PRIMARY,
  INFO: ANY_PRIMARY,
  MODULE: ANY_PRIMARY,
};

/** Commands whose answer needs one node's view or connection, which no single route gives on a cluster. */
const REFUSED: Readonly<Record<string, string>> = {
  WAIT: 'it counts the replicas of one connection’s writes; use waitForReplicas(client, key, ...) to ask the node that took the write',
  'TS.MRANGE': 'it only sees the series of the shard it runs on',
  'TS.MGET': 'it only sees the series of the shard it runs on',
  'TS.QUERYINDEX': 'it only sees the series of the shard it runs on',
  KEYS: 'it only sees the keys of one shard',
  SCAN: 'it only sees the keys of one shard',
  DBSIZE: 'it only counts the keys of one shard',
  FLUSHALL: 'it would flush one shard',
  FLUSHDB: 'it would flush one shard',
  CLIENT: 'it concerns one connection',
  CONFIG: 'it concerns one node',
  CLUSTER: 'it concerns one node',
  MULTI: 'transactions need one connection',
  EXEC: 'transactions need one connection',
};

/** Commands whose first key is not their first argument. */
const SUBCOMMAND_THEN_KEY = new Set(['XINFO', 'XGROUP', 'OBJECT', 'MEMORY']);
const SCRIPT_CALLS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);
const STREAM_READS = new Set(['XREAD', 'XREADGROUP']);

/**
 * The route of a command given as `sendCommand` arguments. Every command not listed above takes its
 * key as the first argument (`XADD key ...`, `ZRANGE key ...`, `TS.MADD key ts value ...`); a
 * multi-key command is routed by its first key, and the server refuses it (CROSSSLOT) unless all
 * of its keys share that slot.
 */
export function commandRoute(args: readonly RedisArgument[]): CommandRoute {
  const command = String(args[0] ?? '').toUpperCase();
  const keyAt = (index: number): CommandRoute => {
    const key = args[index];
    if (key === undefined) throw new ClusterRoutingError(command, 'it names no key to route by');
    return { to: 'slot', key };
  };
  const keyless = KEYLESS_ROUTES[command];
  if (keyless) return keyless;
  const refusal = REFUSED[command];
  if (refusal) throw new ClusterRoutingError(command, refusal);
  if (SCRIPT_CALLS.has(command)) {
    // A script without keys touches no data and may run on any primary.
    return Number(String(args[2])) > 0 ? keyAt(3) : ANY_PRIMARY;
  }
  if (STREAM_READS.has(command)) {
    const streams = args.findIndex((arg, index) => index > 0 && String(arg).toUpperCase() === 'STREAMS');
    if (streams === -1) throw new ClusterRoutingError(command, 'it has no STREAMS argument');
    return keyAt(streams + 1);
  }
  return keyAt(SUBCOMMAND_THEN_KEY.has(command) ? 2 : 1);
}
