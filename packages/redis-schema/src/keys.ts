import { CLUSTER_SLOTS, keySlot } from './cluster/key-slot';
import type { RollupTier } from './rollup/tiers';

export interface SeriesId {
  readonly metric: string;
  readonly source: string;
}

export interface KeyConfig {
  readonly streamKey: string;
  readonly deadLetterKey: string;
  readonly metricsKey: string;
  readonly seriesPrefix: string;
  /** INGEST_STREAM_PARTITIONS; 1 when unset. */
  readonly streamPartitions?: number;
  /** The keys live on a Redis Cluster, where each partition's keys need a hash tag of their own. */
  readonly cluster?: boolean;
}

/** The keys of one partition of the event stream; all of them share one Cluster slot. */
export interface StreamPartition {
  readonly index: number;
  readonly stream: string;
  readonly deadLetter: string;
  /** Remembers the stream id written for a client's event id. */
  idempotency(eventId: string): string;
}

export const MAX_STREAM_PARTITIONS = 256;

/**
 * The hash tag of partition `index` of `count`: the first of `p<index>`, `p<index>-1`, ... whose slot
 * lies in the index-th of `count` equal ranges of the slot space. A cluster created with equal slot
 * ranges per primary thus gets its share of the partitions on every primary.
 */
export function partitionTag(index: number, count: number): string {
  const first = Math.floor((index * CLUSTER_SLOTS) / count);
  const end = Math.floor(((index + 1) * CLUSTER_SLOTS) / count);
  for (let attempt = 0; ; attempt += 1) {
    const tag = attempt === 0 ? `p${index}` : `p${index}-${attempt}`;
    const slot = keySlot(`{${tag}}`);
    if (slot >= first && slot < end) return tag;
  }
}

/** FNV-1a of the source's bytes: stable across processes and releases, so a source keeps its partition. */
export function partitionIndex(source: string, count: number): number {
  // Every event of a batch asks; hashing its source for the only answer cost a few percent of ingest.
  if (count === 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(source, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % count;
}

/**
 * With one partition on a standalone server the stream keeps its configured names. Otherwise
 * partition i is `<INGEST_STREAM_KEY>:{<tag>}` with dead letters in `<INGEST_DEAD_LETTER_KEY>:{<tag>}`
 * and idempotency keys under the stream's name: the worker's dead-letter script and the append
 * script touch a partition's keys together, so they share the tag and with it one Cluster slot.
 * On a cluster even a single partition is tagged, for the same reason.
 */
function streamPartitions({
  streamKey,
  deadLetterKey,
  streamPartitions: count = 1,
  cluster = false,
}: KeyConfig): StreamPartition[] {
  const partition = (index: number, stream: string, deadLetter: string): StreamPartition => ({
    index,
    stream,
    deadLetter,
    idempotency: (eventId) => `${stream}:idempotency:${eventId}`,
  });
  if (count === 1 && !cluster) return [partition(0, streamKey, deadLetterKey)];
  return Array.from({ length: count }, (_, index) => {
    const tag = `{${partitionTag(index, count)}}`;
    return partition(index, `${streamKey}:${tag}`, `${deadLetterKey}:${tag}`);
  });
}

/**
 * The one place that spells Redis keys. Every key of one series shares the hash tag
 * `{metric:source}`, so a raw series and its rollups live in one Cluster slot
 * (TS.CREATERULE and multi-key scripts require it).
 */
export function createKeys(config: KeyConfig) {
  const seriesTag = ({ metric, source }: SeriesId) => `${config.seriesPrefix}:{${metric}:${source}}`;
  const partitions = streamPartitions(config);
  const [first] = partitions as [StreamPartition];
  return {
    /** The stream's partitions; a source's events all go to partitionFor(source), which keeps them in order. */
    partitions,
    partitionFor: (source: string) => partitions[partitionIndex(source, partitions.length)]!,
    /** Partition 0's keys, the whole stream when there is one partition. */
    stream: first.stream,
    deadLetter: first.deadLetter,
    idempotency: first.idempotency,
    /** Sorted set (all scores 0) of `metric:source` members, ordered for lexicographic paging. */
    seriesIndex: config.metricsKey,
    /** The same series as `source:metric`, so listing by source is a range too. */
    seriesIndexBySource: `${config.metricsKey}:by-source`,
    raw: (series: SeriesId) => `${seriesTag(series)}:raw`,
    /** The native store's samples that did not append to its raw stream (add-samples.lua). */
    lateRaw: (series: SeriesId) => `${seriesTag(series)}:raw:late`,
    rollup: (series: SeriesId, tier: RollupTier) => `${seriesTag(series)}:${tier.aggregation}:${tier.bucketMs}`,
  };
}

export type Keys = ReturnType<typeof createKeys>;

export function seriesMember({ metric, source }: SeriesId): string {
  return `${metric}:${source}`;
}

export function seriesMemberBySource({ metric, source }: SeriesId): string {
  return `${source}:${metric}`;
}

/** Names cannot contain `:`, so the first colon always separates the two parts. */
export function parseSeriesMember(member: string): SeriesId {
  const colon = member.indexOf(':');
  return { metric: member.slice(0, colon), source: member.slice(colon + 1) };
}

export interface AccessKeyConfig {
  readonly deviceKeysKey: string;
  readonly rateLimitPrefix: string;
}

/**
 * Keys of ingest access control: device keys and rate-limit buckets. Only the ingest-api and its
 * key tool use them, so they live beside, not inside, the pipeline's keys.
 */
export function createAccessKeys(config: AccessKeyConfig) {
  return {
    /** Hash of device key id -> JSON record (secret hash, sources, createdAt). */
    deviceKeys: config.deviceKeysKey,
    /** GCRA state (theoretical arrival time) of one device key's budget. */
    rateLimitByKey: (keyId: string) => `${config.rateLimitPrefix}:key:${keyId}`,
    /**
     * The budget of one source while ingest runs without device keys. One request may charge several
     * sources in one script, so they share a hash tag and thus a Cluster slot.
     */
    rateLimitBySource: (source: string) => `${config.rateLimitPrefix}:{sources}:${source}`,
  };
}

export type AccessKeys = ReturnType<typeof createAccessKeys>;
