import { parseStreamNumber, type RedisClient } from '@redis-ingest/redis-schema';

export interface RecentEvent {
  readonly id: string;
  readonly source: string | null;
  readonly metric: string | null;
  /** A number when the field spells one; otherwise the stored text, since anything can XADD. */
  readonly value: number | string | null;
  readonly occurredAt: string | null;
}

export function toRecentEvent(id: string, fields: Readonly<Record<string, string>>): RecentEvent {
  const value = fields.value ?? null;
  return {
    id,
    source: fields.source ?? null,
    metric: fields.metric ?? null,
    value: value === null ? null : (parseStreamNumber(value) ?? value),
    occurredAt: fields.occurredAt ?? null,
  };
}

/** The newest `count` stream entries, newest first, whatever their fields. */
export async function readRecentEvents(client: RedisClient, stream: string, count: number): Promise<RecentEvent[]> {
  const entries = await client.xRevRange(stream, '+', '-', { COUNT: count });
  return entries.map(({ id, message }) => toRecentEvent(id, message));
}
