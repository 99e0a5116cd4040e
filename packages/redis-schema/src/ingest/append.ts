import { join } from 'node:path';
import type { TelemetryEvent } from '../event';
import type { Keys, StreamPartition } from '../keys';
import type { RedisClient } from '../redis-client';
import { RedisScript } from '../redis-script';
import { redisErrorCode } from '../redis-errors';
import { EVENT_FIELD, packEvent } from '../stream-entry';

const appendScript = RedisScript.load(join(__dirname, 'append-events.lua'), { constants: { EVENT_FIELD } });

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

/** What an append says of each event it took. */
export interface Appended {
  /** True when the event id was seen inside the window, so no entry was written for it this time. */
  readonly duplicate: boolean;
}

export interface AppendedEvent extends Appended {
  /** The entry written for the event; for a duplicate, the one written the first time. */
  readonly id: string;
}

/**
 * What an append answers per event: every entry id, for answers that list them, or only whether it
 * was a duplicate, for callers that answer with a count. A thousand ids cost Redis their reply and
 * the caller their decoding (about a tenth of the ingest-api's CPU per line-protocol event) to be dropped.
 */
export interface AppendReply<R extends Appended> {
  readonly withIds: boolean;
  read(reply: unknown, events: number): R[];
}

export const REPLY_WITH_IDS: AppendReply<AppendedEvent> = {
  withIds: true,
  read(reply) {
    const [ids, duplicatePositions] = reply as [string[], number[]];
    const appended = ids.map((id) => ({ id, duplicate: false }));
    for (const position of duplicatePositions) appended[position - 1]!.duplicate = true;
    return appended;
  },
};

const NEW_EVENT: Appended = Object.freeze({ duplicate: false });
const DUPLICATE: Appended = Object.freeze({ duplicate: true });

export const REPLY_WITHOUT_IDS: AppendReply<Appended> = {
  withIds: false,
  read(reply, events) {
    const appended = new Array<Appended>(events).fill(NEW_EVENT);
    for (const position of reply as number[]) appended[position - 1] = DUPLICATE;
    return appended;
  },
};

/** Where one append writes: a stream partition (or `Keys`, whose stream is partition 0). */
export type AppendTarget = Pick<StreamPartition, 'stream' | 'idempotency'>;

/** Builds the script's KEYS and ARGV; pure, so the exact arguments are unit-tested. */
export function appendArguments(
  keys: AppendTarget,
  events: readonly TelemetryEvent[],
  options: AppendOptions,
  withIds: boolean,
) {
  const scriptKeys = [keys.stream];
  const args = [
    options.consumerGroup,
    String(options.maxBacklog),
    String(options.idempotencyWindowMs),
    withIds ? '1' : '0',
  ];
  for (const event of events) {
    if (event.eventId !== undefined) scriptKeys.push(keys.idempotency(event.eventId));
    args.push(packEvent(event), event.eventId ?? '');
  }
  return { keys: scriptKeys, args };
}

type AppendCall = ReturnType<typeof appendArguments>;

async function runAppendScript(client: RedisClient, call: AppendCall): Promise<unknown> {
  try {
    return await appendScript.run(client, call.keys, call.args);
  } catch (error) {
    if (redisErrorCode(error) === 'BACKPRESSURE')
      throw new BackpressureError(Number((error as Error).message.split(' ')[1]));
    throw error;
  }
}

/**
 * Appends validated events in one round trip, atomically with the backlog check, so a 2xx always
 * means the entries are in the stream and an overloaded pipeline writes nothing.
 */
export async function appendEvents<R extends Appended>(
  client: RedisClient,
  keys: AppendTarget,
  events: readonly TelemetryEvent[],
  options: AppendOptions,
  reply: AppendReply<R>,
): Promise<R[]> {
  if (events.length === 0) return [];
  return reply.read(
    await runAppendScript(client, appendArguments(keys, events, options, reply.withIds)),
    events.length,
  );
}

/** Throws BackpressureError when the partition's group is too far behind: the append script with no events, which writes nothing. */
export async function checkBacklog(client: RedisClient, keys: AppendTarget, options: AppendOptions): Promise<void> {
  await runAppendScript(client, appendArguments(keys, [], options, false));
}

/** The events of one partition that did not get in, and why. */
export interface PartitionFailure {
  readonly partition: StreamPartition;
  /** Positions of the events in the batch given to appendToPartitions. */
  readonly positions: readonly number[];
  readonly error: unknown;
}

/** Some partitions took their events and others did not. */
export class PartialAppendError<R extends Appended = Appended> extends Error {
  constructor(
    /** Per position of the batch: what was appended, or undefined for the events of a failed partition. */
    readonly results: readonly (R | undefined)[],
    readonly failures: readonly PartitionFailure[],
  ) {
    super(`${failures.length} partitions of the batch failed; the others were appended`);
    this.name = 'PartialAppendError';
  }
}

/** The positions of a batch's events grouped by their source's partition, in batch order within each. */
export function groupByPartition(
  keys: Pick<Keys, 'partitionFor'>,
  events: readonly TelemetryEvent[],
): Map<StreamPartition, number[]> {
  const positionsByPartition = new Map<StreamPartition, number[]>();
  events.forEach((event, position) => {
    const partition = keys.partitionFor(event.source);
    const positions = positionsByPartition.get(partition);
    if (positions) positions.push(position);
    else positionsByPartition.set(partition, [position]);
  });
  return positionsByPartition;
}

/**
 * Appends each event to its source's partition: one script call per partition, all at once. Each
 * call is atomic for its own partition only, and the backlog limit applies per partition. A batch
 * spanning partitions first checks every involved partition's backlog, read-only, so a pipeline
 * that is behind refuses the batch whole (BackpressureError) before anything is written; the
 * appends check again atomically. Should a partition still refuse or fail, the others' appends
 * are awaited and PartialAppendError says which events got in; when no partition took its events,
 * the first partition's error is thrown as it is.
 */
export async function appendToPartitions<R extends Appended>(
  client: RedisClient,
  keys: Keys,
  events: readonly TelemetryEvent[],
  options: AppendOptions,
  reply: AppendReply<R>,
): Promise<R[]> {
  const groups = [...groupByPartition(keys, events)];
  if (groups.length > 1 && options.maxBacklog > 0) {
    await Promise.all(groups.map(([partition]) => checkBacklog(client, partition, options)));
  }
  const outcomes = await Promise.allSettled(
    groups.map(([partition, positions]) =>
      appendEvents(
        client,
        partition,
        positions.map((position) => events[position]!),
        options,
        reply,
      ),
    ),
  );
  const results = new Array<R | undefined>(events.length).fill(undefined);
  const failures: PartitionFailure[] = [];
  outcomes.forEach((outcome, group) => {
    const [partition, positions] = groups[group]!;
    if (outcome.status === 'rejected') failures.push({ partition, positions, error: outcome.reason });
    else outcome.value.forEach((result, index) => (results[positions[index]!] = result));
  });
  if (failures.length === 0) return results as R[];
  if (failures.length === groups.length) throw failures[0]!.error;
  throw new PartialAppendError(results, failures);
}
