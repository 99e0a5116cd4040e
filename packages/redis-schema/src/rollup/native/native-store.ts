import { join } from 'node:path';
import type { Keys, SeriesId } from '../../keys';
import type { RedisClient } from '../../redis-client';
import { classifyRedisError } from '../../redis-errors';
import { RedisScript } from '../../redis-script';
import { indexSeriesCommands } from '../../series-index';
import { aggregatePoints } from '../aggregate';
import { rangeAcrossSources } from '../across-sources';
import { readLatest } from '../store';
import type {
  AcrossSourcesQuery,
  AcrossSourcesRange,
  Point,
  RangeQuery,
  RollupStore,
  RollupStoreOptions,
  Sample,
  SeriesLatest,
  WriteResult,
} from '../store';
import { bucketStart, type RollupTier } from '../tiers';
import { closeDelayMs, maxCloseDelayMs, seriesSpread, unwrittenClosedBucket } from './close-delay';

/**
 * The script with this store's configuration bound as CONFIG at load time, which keeps it out of
 * every call's arguments: the script is the pipeline's hottest path.
 */
function addSamplesScript({ rawRetentionMs, tiers }: RollupStoreOptions): RedisScript {
  const widths = [...new Set(tiers.map((tier) => tier.bucketMs))];
  const config = {
    rawRetentionMs,
    widths,
    maxDelays: widths.map((width) => maxCloseDelayMs(width, rawRetentionMs)),
    tiers: tiers.map((tier) => ({
      aggregation: tier.aggregation,
      width: widths.indexOf(tier.bucketMs) + 1,
      retentionMs: tier.retentionMs,
    })),
  };
  return RedisScript.load(join(__dirname, 'lua', 'add-samples.lua'), { constants: { CONFIG: config } });
}

const upgradeRawScript = RedisScript.load(join(__dirname, 'lua', 'upgrade-raw-2.lua'));

const WRITTEN: WriteResult = { ok: true };
/** The words TS.ADD answers with, so callers see the same reason from either backend. */
const TOO_OLD: WriteResult = { ok: false, reason: 'TSDB: Timestamp is older than retention' };

/** On-the-fly aggregation reads raw samples in pages of this many. */
const RAW_PAGE_SIZE = 10_000;

/** The late set and the rollups store `<timestamp>:<value>`, so a member alone is a point. */
function parseMember(member: string): Point {
  const colon = member.indexOf(':');
  return { timestampMs: Number(member.slice(0, colon)), value: Number(member.slice(colon + 1)) };
}

/** An entry of XRANGE's reply: its ID, `<timestamp>-1`, and its fields, `v <value>` (raw-stream.lua). */
type RawEntry = [id: string, fields: string[]];

function entryPoint([id, fields]: RawEntry): Point {
  return { timestampMs: Number(id.slice(0, id.indexOf('-'))), value: Number(fields[1]) };
}

/** The raw stream's points with the late set's merged in, a late point replacing the stream's of its timestamp. */
function withLatePoints(appended: readonly Point[], late: readonly Point[]): Point[] {
  if (late.length === 0) return appended as Point[];
  const points: Point[] = [];
  let a = 0;
  let l = 0;
  while (a < appended.length || l < late.length) {
    const next = appended[a];
    const nextLate = late[l];
    if (nextLate === undefined || (next !== undefined && next.timestampMs < nextLate.timestampMs)) {
      points.push(next!);
      a += 1;
    } else {
      points.push(nextLate);
      l += 1;
      if (next?.timestampMs === nextLate.timestampMs) a += 1;
    }
  }
  return points;
}

/**
 * A call holds the samples of whole series up to this many (a series with more takes a call of its
 * own). Other clients wait while a script runs: a call of 100 single-sample series takes about
 * 0.6 ms, longer when it closes buckets, whose raw samples it reads; fewer, longer calls measured
 * no faster.
 */
export const MAX_SAMPLES_PER_CALL = 100;

/** A series this store has written to: its keys, built once, and whether it is in the index yet. */
interface KnownSeries {
  readonly id: SeriesId;
  /** The raw stream, the late set, then one rollup key per tier, as the script takes them. */
  readonly keys: readonly string[];
  /**
   * The client's slot of its keys: every key of one script call must share it, so on Redis Cluster
   * only the series of one slot share a call, and on a standalone server the whole batch does.
   */
  readonly group: number;
  /** Picks how long after their end its buckets are written (close-delay.ts). */
  readonly spread: number;
  indexed: boolean;
  /**
   * The newest timestamp of the samples this store has written to the series, which the series'
   * newest is at least: add-samples.lua appends a newer sample without reading the newest first.
   */
  newestBoundMs: number | undefined;
}

interface SeriesWrite {
  readonly series: KnownSeries;
  readonly members: string[];
  /** Where each of the series' samples sits in the caller's array. */
  readonly positions: number[];
  newestMs: number;
}

interface ScriptCall {
  readonly writes: readonly SeriesWrite[];
  readonly keys: string[];
  readonly args: string[];
  /** Where the call's samples, in argument order, sit in the caller's array. */
  readonly positions: number[];
}

/**
 * Rollups on plain Redis 7+, behaving like a raw RedisTimeSeries series (DUPLICATE_POLICY LAST,
 * RETENTION) with one compaction rule per tier. A series keeps its raw samples in a stream and a
 * sorted set of late ones (raw-stream.lua), and each rollup in a sorted set, all of one hash tag;
 * one script call writes the samples of many series atomically (a batch's on a standalone server,
 * a slot's on a cluster), and the calls of a batch are pipelined.
 */
export class NativeRollupStore implements RollupStore {
  readonly backend = 'native';
  readonly tiers: readonly RollupTier[];
  private readonly keys: Keys;
  private readonly rawRetentionMs: number;
  private readonly script: RedisScript;
  /** By metric, then source. Building keys anew for every sample would keep the collector busy. */
  private readonly known = new Map<string, Map<string, KnownSeries>>();

  constructor(
    private readonly client: RedisClient,
    options: RollupStoreOptions,
  ) {
    this.keys = options.keys;
    this.tiers = options.tiers;
    this.rawRetentionMs = options.rawRetentionMs;
    this.script = addSamplesScript(options);
  }

  async bootstrap(): Promise<void> {
    await this.script.preload(this.client);
  }

  async addSamples(samples: readonly Sample[]): Promise<WriteResult[]> {
    const writes = this.seriesWrites(samples);
    const unindexed = [...writes.keys()].filter((series) => !series.indexed);
    const results = new Array<WriteResult>(samples.length).fill(WRITTEN);
    try {
      // Issued together, so node-redis pipelines every call and the index writes in one go.
      await Promise.all([
        ...this.scriptCalls(writes.values()).map(async (call) => {
          for (const ordinal of (await this.script.run(this.client, call.keys, call.args)) as number[])
            results[call.positions[ordinal - 1]!] = TOO_OLD;
          for (const { series, newestMs } of call.writes)
            series.newestBoundMs = Math.max(series.newestBoundMs ?? newestMs, newestMs);
        }),
        ...unindexed
          .flatMap((series) => indexSeriesCommands(this.keys, series.id))
          .map((args) => this.client.sendCommand(args)),
      ]);
    } catch (error) {
      // A failover that lost writes leaves series older than what this store wrote, and its bounds
      // too high; whatever the failure was, the series' own newest decides again from here on.
      this.known.clear();
      throw error;
    }
    for (const series of unindexed) series.indexed = true;
    return results;
  }

  private knownSeries({ metric, source }: SeriesId): KnownSeries {
    let bySource = this.known.get(metric);
    if (bySource === undefined) {
      bySource = new Map();
      this.known.set(metric, bySource);
    }
    let series = bySource.get(source);
    if (series === undefined) {
      const id = { metric, source };
      const rawKey = this.keys.raw(id);
      const keys = [rawKey, this.keys.lateRaw(id), ...this.tiers.map((tier) => this.keys.rollup(id, tier))];
      series = {
        id,
        keys,
        group: this.client.slotOf(rawKey),
        spread: seriesSpread(rawKey),
        indexed: false,
        newestBoundMs: undefined,
      };
      bySource.set(source, series);
    }
    return series;
  }

  /** The samples grouped by series, each series' samples in input order. */
  private seriesWrites(samples: readonly Sample[]): Map<KnownSeries, SeriesWrite> {
    const writes = new Map<KnownSeries, SeriesWrite>();
    samples.forEach((sample, position) => {
      const series = this.knownSeries(sample);
      let write = writes.get(series);
      if (write === undefined) {
        write = { series, members: [], positions: [], newestMs: sample.timestampMs };
        writes.set(series, write);
      }
      write.members.push(`${sample.timestampMs}:${sample.value}`);
      write.positions.push(position);
      if (sample.timestampMs > write.newestMs) write.newestMs = sample.timestampMs;
    });
    return writes;
  }

  private scriptCalls(writes: Iterable<SeriesWrite>): ScriptCall[] {
    const groups = new Map<number, SeriesWrite[]>();
    for (const write of writes) {
      const members = groups.get(write.series.group);
      if (members) members.push(write);
      else groups.set(write.series.group, [write]);
    }
    const chunks: SeriesWrite[][] = [];
    for (const group of groups.values()) {
      let chunk: SeriesWrite[] = [];
      let chunkSamples = 0;
      for (const write of group) {
        if (chunkSamples > 0 && chunkSamples + write.positions.length > MAX_SAMPLES_PER_CALL) {
          chunks.push(chunk);
          chunk = [];
          chunkSamples = 0;
        }
        chunk.push(write);
        chunkSamples += write.positions.length;
      }
      chunks.push(chunk);
    }
    return chunks.map((chunk) => this.scriptCall(chunk));
  }

  private scriptCall(writes: readonly SeriesWrite[]): ScriptCall {
    const keys: string[] = [];
    const args: string[] = [];
    const positions: number[] = [];
    for (const write of writes) for (const key of write.series.keys) keys.push(key);
    for (const write of writes) {
      const { spread, newestBoundMs } = write.series;
      args.push(String(write.members.length), String(spread), newestBoundMs === undefined ? '' : String(newestBoundMs));
      for (const member of write.members) args.push(member);
      for (const position of write.positions) positions.push(position);
    }
    return { writes, keys, args, positions };
  }

  async latest(series: readonly SeriesId[]): Promise<SeriesLatest[]> {
    const latest = await readLatest(
      this.keys,
      this.tiers,
      series,
      (id) => this.newestRaw(id),
      (key) => this.newestRollup(key),
    );
    return Promise.all(latest.map((one, i) => this.withUnwrittenBuckets(series[i]!, one)));
  }

  /** Each tier's newest closed bucket, aggregated from raw where add-samples.lua has not written it yet. */
  private async withUnwrittenBuckets(series: SeriesId, latest: SeriesLatest): Promise<SeriesLatest> {
    const { raw } = latest;
    if (raw === null) return latest;
    const rollups = await Promise.all(
      latest.rollups.map(async (written, t) => {
        const tier = this.tiers[t]!;
        const start = this.unwrittenClosedBucket(series, tier, raw.timestampMs);
        if (start === undefined || (written !== null && written.timestampMs >= start)) return written;
        const samples = await this.rawRange(series, start, start + tier.bucketMs - 1);
        return aggregatePoints(samples, tier.aggregation, tier.bucketMs)[0] ?? written;
      }),
    );
    return { raw, rollups };
  }

  /** The start of the series' closed bucket of `tier` that add-samples.lua may still be waiting to write. */
  private unwrittenClosedBucket(series: SeriesId, tier: RollupTier, newestMs: number): number | undefined {
    const maxDelayMs = maxCloseDelayMs(tier.bucketMs, this.rawRetentionMs);
    const delayMs = closeDelayMs(maxDelayMs, seriesSpread(this.keys.raw(series)));
    return unwrittenClosedBucket(newestMs, tier.bucketMs, delayMs);
  }

  rangeAcrossSources(metric: string, query: AcrossSourcesQuery): Promise<AcrossSourcesRange> {
    return rangeAcrossSources(this.client, this.keys, this, metric, query);
  }

  async range(series: SeriesId, query: RangeQuery): Promise<Point[]> {
    const { aggregation } = query;
    const tier = this.tiers.find(
      (candidate) => candidate.aggregation === aggregation?.type && candidate.bucketMs === aggregation.bucketMs,
    );
    if (tier) return this.tierRange(series, tier, query);
    const newest = await this.newestRaw(series);
    if (newest === null) return [];
    // Samples past the retention may linger until the next trim; RedisTimeSeries hides them too.
    const fromMs =
      this.rawRetentionMs > 0 ? Math.max(query.fromMs, newest.timestampMs - this.rawRetentionMs) : query.fromMs;
    if (aggregation === undefined) return this.rawRange(series, fromMs, query.toMs, query.limit);
    const points = await this.rawForBuckets(series, { ...query, fromMs }, aggregation.bucketMs);
    return aggregatePoints(points, aggregation.type, aggregation.bucketMs);
  }

  /**
   * The raw points of the first `limit` non-empty buckets in the range, read in pages so that a
   * long range with a small limit does not fetch every sample.
   */
  private async rawForBuckets(series: SeriesId, query: RangeQuery, bucketMs: number): Promise<Point[]> {
    const points: Point[] = [];
    let buckets = 0;
    let lastBucket: number | undefined;
    let fromMs = query.fromMs;
    for (;;) {
      const page = await this.rawRange(series, fromMs, query.toMs, RAW_PAGE_SIZE);
      for (const point of page) {
        const pointBucket = bucketStart(point.timestampMs, bucketMs);
        if (pointBucket !== lastBucket) {
          // A point of bucket limit + 1 means the first `limit` buckets are complete.
          if (buckets === query.limit) return points;
          buckets += 1;
          lastBucket = pointBucket;
        }
        points.push(point);
      }
      if (page.length < RAW_PAGE_SIZE) return points;
      fromMs = page[page.length - 1]!.timestampMs + 1;
    }
  }

  /**
   * Written buckets from the rollup, then those not written yet aggregated from raw: the open one
   * (the newest sample's), which is what `TS.RANGE ... LATEST` answers, and a closed one whose
   * delay has not passed (add-samples.lua). Should a bucket be written between the reads, it is
   * still aggregated from the same raw samples, so it is neither lost nor counted twice.
   */
  private async tierRange(series: SeriesId, tier: RollupTier, query: RangeQuery): Promise<Point[]> {
    const [members, newest] = await Promise.all([
      this.send<string[]>([
        'ZRANGE',
        this.keys.rollup(series, tier),
        String(query.fromMs),
        String(query.toMs),
        'BYSCORE',
        'LIMIT',
        '0',
        String(query.limit),
      ]),
      this.newestRaw(series),
    ]);
    const points = members.map(parseMember);
    if (newest === null || points.length >= query.limit) return points;
    const openStart = bucketStart(newest.timestampMs, tier.bucketMs);
    const lastWritten = points[points.length - 1]?.timestampMs ?? Number.NEGATIVE_INFINITY;
    const unwritten = [this.unwrittenClosedBucket(series, tier, newest.timestampMs), openStart].filter(
      (start): start is number =>
        start !== undefined && start >= query.fromMs && start <= query.toMs && start > lastWritten,
    );
    if (unwritten.length === 0) return points;
    const samples = await this.rawRange(series, unwritten[0]!, unwritten[unwritten.length - 1]! + tier.bucketMs - 1);
    return [...points, ...aggregatePoints(samples, tier.aggregation, tier.bucketMs)].slice(0, query.limit);
  }

  /**
   * Raw points in [fromMs, toMs], oldest first; all of them without a limit. The first `limit`
   * timestamps of both keys together are among the first `limit` of each.
   */
  private async rawRange(series: SeriesId, fromMs: number, toMs: number, limit?: number): Promise<Point[]> {
    // Stream IDs are unsigned 64-bit integers, where scores took any number; XRANGE answers COUNT 0 with nil.
    if (toMs < 0 || limit === 0) return [];
    const from = String(Math.max(0, fromMs));
    const to = String(Math.min(toMs, Number.MAX_SAFE_INTEGER));
    const appendedArgs = ['XRANGE', this.keys.raw(series), from, to];
    const lateArgs = ['ZRANGE', this.keys.lateRaw(series), from, to, 'BYSCORE'];
    if (limit !== undefined) {
      appendedArgs.push('COUNT', String(limit));
      lateArgs.push('LIMIT', '0', String(limit));
    }
    const [appended, late] = await this.readingRaw(series, () =>
      Promise.all([this.send<RawEntry[]>(appendedArgs), this.send<string[]>(lateArgs)]),
    );
    const points = withLatePoints(appended.map(entryPoint), late.map(parseMember));
    return limit === undefined ? points : points.slice(0, limit);
  }

  /** The late set's newest replaced the stream's if it has its timestamp, and is newer only if the stream is empty. */
  private async newestRaw(series: SeriesId): Promise<Point | null> {
    const [[newest], [newestLate]] = await this.readingRaw(series, () =>
      Promise.all([
        this.send<RawEntry[]>(['XREVRANGE', this.keys.raw(series), '+', '-', 'COUNT', '1']),
        this.send<string[]>(['ZRANGE', this.keys.lateRaw(series), '0', '0', 'REV']),
      ]),
    );
    const late = newestLate === undefined ? null : parseMember(newestLate);
    if (newest === undefined) return late;
    const appended = entryPoint(newest);
    return late !== null && late.timestampMs >= appended.timestampMs ? late : appended;
  }

  /**
   * Runs a read of the series' raw samples, giving a series kept in the sorted set of earlier
   * releases the stream layout first should the read meet one (add-samples.lua does the same on its
   * first write).
   */
  private async readingRaw<T>(series: SeriesId, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (classifyRedisError(error) !== 'wrongtype') throw error;
      await upgradeRawScript.run(this.client, [this.keys.raw(series), this.keys.lateRaw(series)], []);
      return read();
    }
  }

  /**
   * Read from the tail (REV): `ZRANGE key -1 -1` finds the last rank by walking the skiplist (the
   * encoding of every set past 128 members) down from its head, 2.0 against 0.6 µs of Redis a call
   * over 10,000 sets of 250 members.
   */
  private async newestRollup(key: string): Promise<Point | null> {
    const [member] = await this.send<string[]>(['ZRANGE', key, '0', '0', 'REV']);
    return member === undefined ? null : parseMember(member);
  }

  private send<Reply>(args: string[]): Promise<Reply> {
    return this.client.sendCommand(args) as unknown as Promise<Reply>;
  }
}
