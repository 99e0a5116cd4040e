import {
  MemoryGuard,
  PartialAppendError,
  appendToPartitions,
  createKeys,
  groupByPartition,
  positionsBySlot,
  waitForReplicas,
  type AppendReply,
  type Appended,
  type Keys,
  type PartitionFailure,
  type RedisClient,
  type RedisLogger,
  type StreamPartition,
  type TelemetryEvent,
} from '@redis-ingest/redis-schema';
import type { IngestConfig } from './config';

/** The entries are on the primary but not yet on enough replicas: a failover now could lose them. */
export class NotReplicatedError extends Error {
  constructor(readonly replicas: number) {
    super(`only ${replicas} replicas acknowledged the write in time`);
    this.name = 'NotReplicatedError';
  }
}

/**
 * Writes a request's events to the stream partitions of their sources and, with INGEST_WAIT_REPLICAS,
 * waits until each written partition's replicas hold them.
 *
 * What a batch spanning partitions gets when not all of them take their events:
 * - A partition over INGEST_MAX_BACKLOG (the limit is per partition) is found by a read-only check
 *   of every involved partition before anything is written, so the batch is refused whole.
 * - A partition that still refuses at the append, fails, or whose replicas do not acknowledge in time
 *   fails only its own events: the others' appends are awaited, and PartialAppendError tells by
 *   position which events are in (their ids) and which are not, so the client retries only those.
 *   An event whose replicas came short is in its partition's primary, so its retry is safe only
 *   with its eventId (answered as a duplicate, and waited for again).
 * - When no partition took its events, the first partition's error is thrown as it is, so a
 *   single-partition request fails exactly as with one stream.
 */
export class PartitionedAppend {
  private readonly keys: Keys;
  private readonly options;
  private readonly memory: MemoryGuard;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: IngestConfig,
    logger: RedisLogger,
  ) {
    this.keys = createKeys(config.keys);
    this.options = {
      consumerGroup: config.consumerGroup,
      maxBacklog: config.maxBacklog,
      idempotencyWindowMs: config.idempotencyWindowMs,
    };
    this.memory = new MemoryGuard(redis, config.maxMemoryRatio, (error) =>
      logger.warn(
        { err: error },
        'redis refuses INFO memory: INGEST_MAX_MEMORY_RATIO is not enforced; events are refused only once Redis is out of memory',
      ),
    );
  }

  /** Throws MemoryPressureError, before anything is written, when a partition's node is too full. */
  async append<R extends Appended>(events: readonly TelemetryEvent[], reply: AppendReply<R>): Promise<R[]> {
    this.memory.check(this.streamsOf(events));
    let results: readonly (R | undefined)[];
    let failures: readonly PartitionFailure[] = [];
    try {
      results = await appendToPartitions(this.redis, this.keys, events, this.options, reply);
    } catch (error) {
      if (!(error instanceof PartialAppendError)) throw error;
      ({ results, failures } = error);
    }
    const allFailures = [...failures, ...(await this.unreplicated(events, results))];
    if (allFailures.length === 0) return results as R[];
    const failed = new Set(allFailures.flatMap((failure) => failure.positions));
    const kept = results.map((result, position) => (failed.has(position) ? undefined : result));
    if (kept.every((result) => result === undefined)) throw allFailures[0]!.error;
    throw new PartialAppendError(kept, allFailures);
  }

  /** The streams the events go to. */
  private streamsOf(events: readonly TelemetryEvent[]): string[] {
    return [...groupByPartition(this.keys, events).keys()].map((partition) => partition.stream);
  }

  /** The written partitions whose replicas did not acknowledge in time (or could not be asked). */
  private async unreplicated(
    events: readonly TelemetryEvent[],
    results: readonly (Appended | undefined)[],
  ): Promise<PartitionFailure[]> {
    const { waitReplicas, waitTimeoutMs } = this.config;
    if (waitReplicas === 0) return [];
    const written = [...groupByPartition(this.keys, events)]
      .map(
        ([partition, positions]) =>
          [partition, positions.filter((position) => results[position] !== undefined)] as const,
      )
      .filter(([, positions]) => positions.length > 0);
    // One WAIT per slot covers every partition written over that slot's connection: one per partition
    // on a cluster, and a single one on a standalone server, whose one connection takes every partition.
    const waits = positionsBySlot(
      this.redis,
      written.map(([partition]) => partition.stream),
    ).map((group): readonly [StreamPartition, number[]] => [
      written[group[0]!]![0],
      group.flatMap((index) => written[index]![1]),
    ]);
    const outcomes = await Promise.all(
      waits.map(async ([partition, positions]): Promise<PartitionFailure | undefined> => {
        try {
          // WAIT covers every write its connection sent before it, so concurrent requests share one wait.
          const replicas = await waitForReplicas(this.redis, partition.stream, waitReplicas, waitTimeoutMs);
          return replicas < waitReplicas
            ? { partition, positions, error: new NotReplicatedError(replicas) }
            : undefined;
        } catch (error) {
          return { partition, positions, error };
        }
      }),
    );
    return outcomes.filter((failure): failure is PartitionFailure => failure !== undefined);
  }
}
