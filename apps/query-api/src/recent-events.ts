import { eventFields, parseStreamNumber, type RedisClient, type StreamPartition } from '@redis-ingest/redis-schema';
import { mergeNewestFirst } from './stream-ids';

export interface RecentEvent {
  readonly id: string;
  readonly source: string | null;
  readonly metric: string | null;
  /** A number when the field spells one; otherwise the stored text, since anything can XADD. */
  readonly value: number | string | null;
  readonly occurredAt: string | null;
}

export function toRecentEvent(id: string, message: Readonly<Record<string, string>>): RecentEvent {
  const fields = eventFields(message);
  const value = fields.value ?? null;
  return {
    id,
    source: fields.source ?? null,
    metric: fields.metric ?? null,
    value: value === null ? null : (parseStreamNumber(value) ?? value),
    occurredAt: fields.occurredAt ?? null,
  };
}

/**
 * The newest `count` entries of the whole stream, newest first, whatever their fields: each
 * partition's newest `count`, merged by stream id. Each partition numbers its entries by its own
 * clock, so across partitions the order is as close to arrival order as those clocks agree.
 */
export async function readRecentEvents(
  client: RedisClient,
  partitions: readonly Pick<StreamPartition, 'stream'>[],
  count: number,
): Promise<RecentEvent[]> {
  const lists = await Promise.all(partitions.map(({ stream }) => client.xRevRange(stream, '+', '-', { COUNT: count })));
  return mergeNewestFirst(lists, count).map(({ entry: { id, message } }) => toRecentEvent(id, message));
}
