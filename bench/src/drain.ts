import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_FIELD, packEvent, readConsumerGroups, type Keys, type RedisClient } from '@redis-ingest/redis-schema';
import { deviceReading, toEvent } from './workload';

const FILL_CHUNK = 10_000;
const POLL_MS = 10;

/**
 * XADDs readings straight into their source's stream partition, pipelined, in the shape the
 * ingest-api writes.
 */
export async function fillStream(
  client: RedisClient,
  keys: Pick<Keys, 'partitionFor'>,
  events: number,
  series: number,
  baseMs: number,
): Promise<void> {
  for (let first = 0; first < events; first += FILL_CHUNK) {
    const count = Math.min(FILL_CHUNK, events - first);
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const event = toEvent(deviceReading(first + i, series, baseMs));
        return client.sendCommand(['XADD', keys.partitionFor(event.source).stream, '*', EVENT_FIELD, packEvent(event)]);
      }),
    );
  }
}

/** Groups that start before the first entry with a known read count, so Redis can always tell their lag. */
export async function createGroupsAtStart(
  client: RedisClient,
  streams: readonly string[],
  group: string,
): Promise<void> {
  await Promise.all(
    streams.map((stream) =>
      client.sendCommand(['XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM', 'ENTRIESREAD', '0']),
    ),
  );
}

/** Entries the group still has to finish: never delivered (lag) plus delivered but not acked (pending). */
export async function groupBacklog(client: RedisClient, stream: string, group: string): Promise<number> {
  const info = (await readConsumerGroups(client, stream)).find(({ name }) => name === group);
  if (info === undefined) throw new Error(`stream ${stream} has no group ${group}`);
  if (info.lag === null) throw new Error(`Redis cannot tell the lag of group ${group}`);
  return info.lag + info.pending;
}

function groupBacklogs(client: RedisClient, streams: readonly string[], group: string): Promise<number[]> {
  return Promise.all(streams.map((stream) => groupBacklog(client, stream, group)));
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/**
 * Resolves once the group has at most `events` entries left over every partition: 0 for the end of a
 * drain, or the drain's timed share, so that timing leaves out the workers' first entries, which run
 * while V8 is still compiling their hot path (a daemon pays that once; on a drain of a few seconds it
 * would weigh heavily).
 */
export async function untilBacklogAtMost(
  client: RedisClient,
  streams: readonly string[],
  group: string,
  events: number,
  timeoutMs: number,
): Promise<void> {
  const startedAt = performance.now();
  let backlog = sum(await groupBacklogs(client, streams, group));
  while (backlog > events) {
    if (performance.now() - startedAt > timeoutMs) {
      throw new Error(`the workers left ${backlog} entries, not at most ${events}, after ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
    backlog = sum(await groupBacklogs(client, streams, group));
  }
}

/**
 * Events per second the group finished over every partition, timed from now to the moment nothing is
 * left; what was finished before is left out of both the count and the time. `eventsByPartition` is
 * the timed count of each partition.
 */
export async function timeDrain(client: RedisClient, streams: readonly string[], group: string, timeoutMs: number) {
  const startedAt = performance.now();
  const eventsByPartition = await groupBacklogs(client, streams, group);
  const events = sum(eventsByPartition);
  await untilBacklogAtMost(client, streams, group, 0, timeoutMs);
  const seconds = (performance.now() - startedAt) / 1_000;
  return { events, eventsPerSecond: events / seconds, eventsByPartition };
}
