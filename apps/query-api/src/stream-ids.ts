/** Stream ids across the partitions of the event stream, and the references that say which partition holds an entry. */

function idParts(id: string): [bigint, bigint] {
  const [ms, seq] = id.split('-');
  return [BigInt(ms!), BigInt(seq ?? 0)];
}

const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * Whether Redis takes `<ms>-<seq>` as a stream id: both parts are unsigned 64-bit numbers, so 20
 * digits may still be too many (XRANGE answers "ERR Invalid stream ID" for 18446744073709551616-0).
 */
export function isStreamIdInRange(id: string): boolean {
  const [ms, seq] = idParts(id);
  return ms <= MAX_ID_PART && seq <= MAX_ID_PART;
}

/** Orders stream ids as Redis does: by milliseconds, then by sequence; both may exceed 2^53. */
export function compareStreamIds(left: string, right: string): number {
  const [leftMs, leftSeq] = idParts(left);
  const [rightMs, rightSeq] = idParts(right);
  if (leftMs !== rightMs) return leftMs < rightMs ? -1 : 1;
  if (leftSeq !== rightSeq) return leftSeq < rightSeq ? -1 : 1;
  return 0;
}

/** The smallest stream id after `id`. */
export function nextStreamId(id: string): string {
  const [ms, seq] = idParts(id);
  return seq === MAX_ID_PART ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

export interface PartitionEntry<T> {
  readonly partition: number;
  readonly entry: T;
}

/**
 * One newest-first list per partition (indexed by partition) merged into one, newest first: by
 * stream id, and by partition where two partitions hold the same id, since each partition numbers
 * its entries on its own. Keeps the first `count`.
 */
export function mergeNewestFirst<T extends { readonly id: string }>(
  lists: readonly (readonly T[])[],
  count: number,
): PartitionEntry<T>[] {
  return lists
    .flatMap((entries, partition) => entries.map((entry) => ({ partition, entry })))
    .sort((left, right) => compareStreamIds(right.entry.id, left.entry.id) || left.partition - right.partition)
    .slice(0, count);
}

/** A stream entry of one partition. */
export interface EntryRef {
  readonly partition: number;
  readonly id: string;
}

/**
 * How the API names an entry: its bare stream id while the stream has one partition, as it always
 * has, and `<partition>:<stream id>` once it has several, since partitions may hold equal ids.
 */
export function formatEntryRef({ partition, id }: EntryRef, partitionCount: number): string {
  return partitionCount === 1 ? id : `${partition}:${id}`;
}

/** Reads what formatEntryRef wrote (validated against ENTRY_REF_PATTERN); a bare id has no partition. */
export function parseEntryRef(text: string): { readonly partition: number | undefined; readonly id: string } {
  const colon = text.indexOf(':');
  return colon === -1
    ? { partition: undefined, id: text }
    : { partition: Number(text.slice(0, colon)), id: text.slice(colon + 1) };
}
