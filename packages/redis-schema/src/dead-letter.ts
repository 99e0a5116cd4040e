import { join } from 'node:path';
import type { StreamPartition } from './keys';
import type { RedisClient } from './redis-client';
import { RedisScript } from './redis-script';

/**
 * The dead-letter record, shared by the worker (which writes it) and the query side (which lists,
 * replays and deletes it). A replayed entry carries its earlier failures in one extra stream field,
 * so an entry that fails again is dead-lettered with its whole history.
 */

export const REPLAY_HISTORY_FIELD = 'deadLetterHistory';

const deadLetterScript = RedisScript.load(join(__dirname, 'dead-letter-2.lua'));

export interface Failure {
  readonly messageId: string;
  readonly reason: string;
  readonly failedAt: string;
  readonly consumer: string;
  /** The MQTT topic the payload came on, for what the MQTT bridge refused; absent for stream entries. */
  readonly topic?: string;
}

export interface DeadLetter extends Failure {
  /** The dead-letter stream's own entry id. */
  readonly id: string;
  /** The original stream fields, without the replay history. */
  readonly payload: Record<string, string>;
  /** Earlier failures of the same event, oldest first; empty for a first failure. */
  readonly history: readonly Failure[];
}

/** Separates a stream entry's event fields from the history a replay attached to it. */
export function splitReplayHistory(fields: Readonly<Record<string, string>>): {
  fields: Record<string, string>;
  history: Failure[];
} {
  const { [REPLAY_HISTORY_FIELD]: historyText, ...eventFields } = fields;
  return { fields: eventFields, history: historyText === undefined ? [] : parseHistory(historyText) };
}

export function deadLetterFields(
  failure: Failure,
  payload: Readonly<Record<string, string>>,
  history: readonly Failure[],
): Record<string, string> {
  return {
    messageId: failure.messageId,
    reason: failure.reason,
    payload: JSON.stringify(payload),
    failedAt: failure.failedAt,
    consumer: failure.consumer,
    ...(failure.topic === undefined ? {} : { topic: failure.topic }),
    ...(history.length === 0 ? {} : { history: JSON.stringify(history) }),
  };
}

/** An entry to dead-letter: its id in the stream and the fields of its dead letter. */
export interface Letter {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * KEYS and ARGV of the dead-letter script: per entry its id, the number of values that follow, then
 * field, value, ... An entry's dead letter goes to its own partition's dead-letter stream, which
 * shares the partition's slot.
 */
export function deadLetterArguments(
  partition: Pick<StreamPartition, 'stream' | 'deadLetter'>,
  group: string,
  maxLen: number,
  letters: readonly Letter[],
) {
  const args = [group, String(maxLen)];
  for (const { id, fields } of letters) {
    const flat = Object.entries(fields).flat();
    args.push(id, String(flat.length), ...flat);
  }
  return { keys: [partition.stream, partition.deadLetter], args };
}

/**
 * Dead-letters and acks the entries still pending in `group`, in one script call. Answers per
 * letter 1 when written and acked, 0 when the entry was no longer pending, or the refused XADD's
 * error, which leaves the entry pending.
 */
export async function writeDeadLetters(
  client: RedisClient,
  partition: Pick<StreamPartition, 'stream' | 'deadLetter'>,
  group: string,
  maxLen: number,
  letters: readonly Letter[],
): Promise<(number | string)[]> {
  const { keys, args } = deadLetterArguments(partition, group, maxLen, letters);
  return (await deadLetterScript.run(client, keys, args)) as (number | string)[];
}

/** Reads a dead-letter entry; anything can XADD there too, so missing parts become empty values. */
export function parseDeadLetter(id: string, fields: Readonly<Record<string, string>>): DeadLetter {
  return {
    id,
    messageId: fields.messageId ?? '',
    reason: fields.reason ?? '',
    failedAt: fields.failedAt ?? '',
    consumer: fields.consumer ?? '',
    ...(fields.topic === undefined ? {} : { topic: fields.topic }),
    payload: parsePayload(fields.payload),
    history: fields.history === undefined ? [] : parseHistory(fields.history),
  };
}

/** The fields to XADD to the main stream to try a dead letter again. */
export function replayFields(deadLetter: DeadLetter): Record<string, string> {
  const { id: _id, payload, history, ...failure } = deadLetter;
  return { ...payload, [REPLAY_HISTORY_FIELD]: JSON.stringify([...history, failure]) };
}

function parsePayload(text: string | undefined): Record<string, string> {
  try {
    const value: unknown = JSON.parse(text ?? '');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(
      Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
  } catch {
    return {};
  }
}

function parseHistory(text: string): Failure[] {
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value
      .filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null)
      .map((item) => ({
        messageId: String(item.messageId ?? ''),
        reason: String(item.reason ?? ''),
        failedAt: String(item.failedAt ?? ''),
        consumer: String(item.consumer ?? ''),
        ...(typeof item.topic === 'string' ? { topic: item.topic } : {}),
      }));
  } catch {
    return [];
  }
}
