/**
 * The dead-letter record, shared by the worker (which writes it) and the query side (which lists,
 * replays and deletes it). A replayed entry carries its earlier failures in one extra stream field,
 * so an entry that fails again is dead-lettered with its whole history.
 */

export const REPLAY_HISTORY_FIELD = 'deadLetterHistory';

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
