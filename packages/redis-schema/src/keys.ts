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
}

/**
 * The one place that spells Redis keys. Every key of one series shares the hash tag
 * `{metric:source}`, so a raw series and its rollups live in one Cluster slot
 * (TS.CREATERULE and multi-key scripts require it).
 */
export function createKeys(config: KeyConfig) {
  const seriesTag = ({ metric, source }: SeriesId) => `${config.seriesPrefix}:{${metric}:${source}}`;
  return {
    stream: config.streamKey,
    deadLetter: config.deadLetterKey,
    /** Sorted set (all scores 0) of `metric:source` members, ordered for lexicographic paging. */
    seriesIndex: config.metricsKey,
    /** The same series as `source:metric`, so listing by source is a range too. */
    seriesIndexBySource: `${config.metricsKey}:by-source`,
    /** Remembers the stream id written for a client's event id; shares the stream's slot. */
    idempotency: (eventId: string) => `${config.streamKey}:idempotency:${eventId}`,
    raw: (series: SeriesId) => `${seriesTag(series)}:raw`,
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
