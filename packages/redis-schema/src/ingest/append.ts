import { join } from 'node:path';
import type { TelemetryEvent } from '../event';
import type { Keys, StreamPartition } from '../keys';
import { LuaScript } from '../lua-script';
import type { RedisClient } from '../redis';

const appendScript = LuaScript.fromFile(join(__dirname, 'append-events.lua'));

/** The consumer group is further behind than the configured backlog allows; nothing was written. */
export class BackpressureError extends Error {
  constructor(readonly backlog: number) {
    super(`the consumer group is ${backlog} entries behind`);
    this.name = 'BackpressureError';
  }
}

export interface AppendOptions {
  readonly consumerGroup: string;
  /** 0 disables the backlog check. */
  readonly maxBacklog: number;
  readonly idempotencyWindowMs: number;
}

export interface AppendedEvent {
  readonly id: string;
  /** True when the event id was seen inside the window and `id` is the entry written the first time. */
  readonly duplicate: boolean;
}

/** Where one append writes: a stream partition (or `Keys`, whose stream is partition 0). */
export type AppendTarget = Pick<StreamPartition, 'stream' | 'idempotency'>;

/** Builds the script's KEYS and ARGV; pure, so the exact arguments are unit-tested. */
export function appendArguments(keys: AppendTarget, events: readonly TelemetryEvent[], options: AppendOptions) {
  const scriptKeys = [keys.stream];
  const args = [options.consumerGroup, String(options.maxBacklog), String(options.idempotencyWindowMs)];
  for (const event of events) {
    let keyIndex = 0;
    if (event.eventId !== undefined) keyIndex = scriptKeys.push(keys.idempotency(event.eventId));
    args.push(String(keyIndex), event.source, event.metric, String(event.value), event.occurredAt, event.eventId ?? '');
  }
  return { keys: scriptKeys, args };
}

/**
 * Appends validated events in one round trip, atomically with the backlog check, so a 2xx always
 * means the entries are in the stream and an overloaded pipeline writes nothing.
 */
export async function appendEvents(
  client: RedisClient,
  keys: AppendTarget,
  events: readonly TelemetryEvent[],
  options: AppendOptions,
): Promise<AppendedEvent[]> {
  if (events.length === 0) return [];
  const call = appendArguments(keys, events, options);
  let reply: [string[], number[]];
  try {
    reply = (await appendScript.run(client, call.keys, call.args)) as [string[], number[]];
  } catch (error) {
    const backlog = /^BACKPRESSURE (\d+)/.exec((error as Error).message);
    if (backlog) throw new BackpressureError(Number(backlog[1]));
    throw error;
  }
  const [ids, duplicates] = reply;
  return ids.map((id, index) => ({ id, duplicate: duplicates[index] === 1 }));
}

/**
 * Appends each event to its source's partition: one script call per partition, all at once. Each
 * call is atomic for its own partition only, and the backlog limit applies per partition: should
 * one partition refuse (BackpressureError) or fail, others may have been written, which a retry
 * with the same event ids answers as duplicates.
 */
export async function appendToPartitions(
  client: RedisClient,
  keys: Keys,
  events: readonly TelemetryEvent[],
  options: AppendOptions,
): Promise<AppendedEvent[]> {
  const positionsByPartition = new Map<StreamPartition, number[]>();
  events.forEach((event, position) => {
    const partition = keys.partitionFor(event.source);
    const positions = positionsByPartition.get(partition);
    if (positions) positions.push(position);
    else positionsByPartition.set(partition, [position]);
  });
  const results = new Array<AppendedEvent>(events.length);
  await Promise.all(
    [...positionsByPartition].map(async ([partition, positions]) => {
      const appended = await appendEvents(client, partition, positions.map((position) => events[position]!), options);
      appended.forEach((result, index) => {
        results[positions[index]!] = result;
      });
    }),
  );
  return results;
}
