import type { Keys, SeriesId } from '../../keys';
import { positionsBySlot, type RedisClient } from '../../redis-client';
import { indexSeriesCommands } from '../../series-index';
import {
  MAX_REDUCED_SOURCES,
  TooManySourcesError,
  readLatest,
  type AcrossSourcesQuery,
  type AcrossSourcesRange,
  type Point,
  type RangeQuery,
  type RollupStore,
  type RollupStoreOptions,
  type Sample,
  type SeriesLatest,
  type WriteResult,
} from '../store';
import { rangeAcrossSources } from '../across-sources';
import type { RollupTier } from '../tiers';
import { tsCreate, tsCreateRule, tsGet, tsMAdd, tsRange } from './commands';
import { hasTimeSeriesModule } from './module-probe';
import {
  isTimeSeriesError,
  parseGroupedRange,
  parseLastSample,
  parseMAddReply,
  parseSamples,
  TIME_SERIES_ERRORS,
  toWriteResult,
  tolerating,
  type TimeSeriesError,
} from './replies';
import { deploymentLabel, metricRangeAcrossSources, rawSeriesLabels, rollupSeriesLabels } from './series-labels';

/** The TS.RANGE answering a query, or null when the answer is empty without asking. */
export function rangeCommand(
  { keys, tiers }: RollupStoreOptions,
  series: SeriesId,
  query: RangeQuery,
): string[] | null {
  const { fromMs, toMs, limit, aggregation } = query;
  // The module refuses COUNT 0.
  if (limit <= 0 || fromMs > toMs) return null;
  if (aggregation === undefined) return tsRange(keys.raw(series), fromMs, toMs, { count: limit });
  const tier = tiers.find((t) => t.aggregation === aggregation.type && t.bucketMs === aggregation.bucketMs);
  // LATEST adds the bucket still open, which aggregating raw samples includes as well.
  if (tier !== undefined) return tsRange(keys.rollup(series, tier), fromMs, toMs, { latest: true, count: limit });
  return tsRange(keys.raw(series), fromMs, toMs, { count: limit, aggregation });
}

/** The TS.MRANGE reducing one metric across its sources, or null when the answer is empty without asking. */
export function acrossSourcesCommand(
  { keys }: RollupStoreOptions,
  metric: string,
  query: AcrossSourcesQuery,
): string[] | null {
  const { fromMs, toMs, limit, aggregation, reduce } = query;
  if (limit <= 0 || fromMs > toMs) return null;
  return metricRangeAcrossSources(deploymentLabel(keys), {
    metric,
    fromMs,
    toMs,
    count: limit,
    aggregation,
    reducer: reduce,
  });
}

/**
 * Reads the one group of that TS.MRANGE. COUNT limits each series before the reduction, so the
 * group may hold more than `limit` points; the first `limit` are complete, since each series had
 * every one of them among its own first `limit` buckets. The sources are the keys listed in
 * `__source__`: names hold no comma, so every key has as many as the configured key prefix.
 */
export function acrossSourcesResult(
  { keys }: RollupStoreOptions,
  metric: string,
  query: AcrossSourcesQuery,
  reply: unknown,
): AcrossSourcesRange {
  const [group] = parseGroupedRange(reply);
  if (group === undefined) return { sources: 0, points: [] };
  const listed = group.labels.__source__;
  const commasPerKey = keys.raw({ metric, source: metric }).split(',').length - 1;
  const sources = listed === undefined || listed === '' ? 0 : listed.split(',').length / (commasPerKey + 1);
  const maxSources = query.maxSources ?? MAX_REDUCED_SOURCES;
  if (sources > maxSources) throw new TooManySourcesError(metric, maxSources);
  return { sources, points: group.points.slice(0, query.limit) };
}

export interface CreationCommand {
  readonly args: string[];
  /** The error meaning another process (or an earlier run) already did this. */
  readonly alreadyDone?: TimeSeriesError;
}

/**
 * What makes a series ready, in execution order (a rule needs both of its series): the raw series,
 * one compaction series per tier, the rules feeding them, and the index entries. Every step is
 * idempotent, so a tier configured later gets its series and rule on the next first sight.
 */
export function seriesCreationCommands(
  { keys, rawRetentionMs, tiers }: RollupStoreOptions,
  series: SeriesId,
): CreationCommand[] {
  const deployment = deploymentLabel(keys);
  const rawKey = keys.raw(series);
  const { keyExists, ruleExists } = TIME_SERIES_ERRORS;
  return [
    {
      args: tsCreate(rawKey, {
        retentionMs: rawRetentionMs,
        duplicatePolicy: 'LAST',
        labels: rawSeriesLabels(deployment, series),
      }),
      alreadyDone: keyExists,
    },
    ...tiers.map((tier) => ({
      args: tsCreate(keys.rollup(series, tier), {
        retentionMs: tier.retentionMs,
        labels: rollupSeriesLabels(deployment, series, tier),
      }),
      alreadyDone: keyExists,
    })),
    ...tiers.map((tier) => ({
      args: tsCreateRule(rawKey, keys.rollup(series, tier), { type: tier.aggregation, bucketMs: tier.bucketMs }),
      alreadyDone: ruleExists,
    })),
    ...indexSeriesCommands(keys, series).map((args) => ({ args })),
  ];
}

/**
 * Rollups on the RedisTimeSeries module: one raw series per (metric, source) with DUPLICATE_POLICY
 * LAST, and per tier a compaction series fed by a TS.CREATERULE, so the server aggregates as
 * samples arrive.
 */
export class TimeSeriesRollupStore implements RollupStore {
  readonly backend = 'timeseries' as const;
  readonly tiers: readonly RollupTier[];
  private readonly keys: Keys;
  /** Raw keys whose series, rules and index entries this process has already made sure of. */
  private readonly ready = new Set<string>();

  constructor(
    private readonly client: RedisClient,
    private readonly options: RollupStoreOptions,
  ) {
    this.keys = options.keys;
    this.tiers = options.tiers;
    // Fails at construction, not at the first write, when the key names cannot serve as a label.
    deploymentLabel(options.keys);
  }

  async bootstrap(): Promise<void> {
    if (!(await hasTimeSeriesModule(this.client))) {
      throw new Error(
        'The timeseries rollup backend needs the RedisTimeSeries module (built into Redis 8); this server lacks it',
      );
    }
  }

  async addSamples(samples: readonly Sample[]): Promise<WriteResult[]> {
    const results: WriteResult[] = new Array(samples.length);
    await this.write(
      samples,
      samples.map((_, index) => index),
      results,
      true,
    );
    return results;
  }

  latest(series: readonly SeriesId[]): Promise<SeriesLatest[]> {
    return readLatest(
      this.keys,
      this.tiers,
      series,
      (id) => this.lastSample(this.keys.raw(id)),
      (key) => this.lastSample(key),
    );
  }

  async range(series: SeriesId, query: RangeQuery): Promise<Point[]> {
    const args = rangeCommand(this.options, series, query);
    if (args === null) return [];
    const reply = await tolerating(this.client.sendCommand(args), TIME_SERIES_ERRORS.keyMissing);
    return reply === null ? [] : parseSamples(reply);
  }

  async rangeAcrossSources(metric: string, query: AcrossSourcesQuery): Promise<AcrossSourcesRange> {
    // TS.MRANGE sees the series of one shard only, so on a cluster the sources are read one by one.
    if (!this.client.singleNode) return rangeAcrossSources(this.client, this.keys, this, metric, query);
    const args = acrossSourcesCommand(this.options, metric, query);
    if (args === null) return { sources: 0, points: [] };
    return acrossSourcesResult(this.options, metric, query, await this.client.sendCommand(args));
  }

  /**
   * MADDs the samples at `indexes`, creating unseen series first. A series deleted behind this
   * process's back fails its element with "not a TSDB key"; it is recreated and written once more.
   */
  private async write(
    samples: readonly Sample[],
    indexes: number[],
    results: WriteResult[],
    retryMissing: boolean,
  ): Promise<void> {
    if (indexes.length === 0) return;
    await this.ensureSeries(
      indexes.map((index) => samples[index]!).filter((sample) => !this.ready.has(this.keys.raw(sample))),
    );
    const batch = indexes.map((index) => {
      const { timestampMs, value } = samples[index]!;
      return { key: this.keys.raw(samples[index]!), timestampMs, value };
    });
    const elements = new Array<unknown>(batch.length);
    // A TS.MADD may name keys of one slot only (all of them on a standalone server).
    const calls = positionsBySlot(
      this.client,
      batch.map(({ key }) => key),
    );
    // Issued together, so node-redis pipelines them.
    await Promise.all(
      calls.map(async (positions) => {
        const reply = await this.client.sendCommand(tsMAdd(positions.map((position) => batch[position]!)));
        parseMAddReply(reply, positions.length).forEach((element, index) => {
          elements[positions[index]!] = element;
        });
      }),
    );
    const missing: number[] = [];
    indexes.forEach((index, position) => {
      if (retryMissing && isTimeSeriesError(elements[position], TIME_SERIES_ERRORS.notASeries)) {
        this.ready.delete(batch[position]!.key);
        missing.push(index);
      } else {
        results[index] = toWriteResult(elements[position]);
      }
    });
    await this.write(samples, missing, results, false);
  }

  /**
   * Creates each series, its tiers and their rules, and indexes it, in one pipeline. Other workers
   * may be doing the same at the same moment, so "already exists" answers count as success.
   */
  private async ensureSeries(series: readonly SeriesId[]): Promise<void> {
    const unique = new Map(series.map(({ metric, source }) => [this.keys.raw({ metric, source }), { metric, source }]));
    await Promise.all(
      [...unique].map(async ([rawKey, id]) => {
        await Promise.all(
          seriesCreationCommands(this.options, id).map(({ args, alreadyDone }) => {
            const reply = this.client.sendCommand(args);
            return alreadyDone === undefined ? reply : tolerating(reply, alreadyDone);
          }),
        );
        this.ready.add(rawKey);
      }),
    );
  }

  private async lastSample(key: string): Promise<Point | null> {
    const reply = await tolerating(this.client.sendCommand(tsGet(key)), TIME_SERIES_ERRORS.keyMissing);
    return reply === null ? null : parseLastSample(reply);
  }
}
