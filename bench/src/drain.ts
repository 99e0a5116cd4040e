import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEvent, type RedisClient } from '@redis-ingest/redis-schema';
import { deviceReading, toEvent } from './workload';

const FILL_CHUNK = 10_000;
const POLL_MS = 10;

/** XADDs readings straight into the stream, pipelined, with the fields the ingest-api writes. */
export async function fillStream(client: RedisClient, stream: string, events: number, series: number, baseMs: number): Promise<void> {
  for (let first = 0; first < events; first += FILL_CHUNK) {
    const count = Math.min(FILL_CHUNK, events - first);
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const fields = encodeEvent(toEvent(deviceReading(first + i, series, baseMs)));
        return client.sendCommand(['XADD', stream, '*', ...Object.entries(fields).flat()]);
      }),
    );
  }
}

/** A group that starts before the first entry with a known read count, so Redis can always tell its lag. */
export async function createGroupAtStart(client: RedisClient, stream: string, group: string): Promise<void> {
  await client.sendCommand(['XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM', 'ENTRIESREAD', '0']);
}

/** Entries the group still has to finish: never delivered (lag) plus delivered but not acked (pending). */
export async function groupBacklog(client: RedisClient, stream: string, group: string): Promise<number> {
  const groups = (await client.sendCommand(['XINFO', 'GROUPS', stream])) as unknown as (string | number | null)[][];
  for (const flat of groups) {
    const info = new Map<string, string | number | null>();
    for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]!);
    if (info.get('name') !== group) continue;
    const lag = info.get('lag');
    if (lag === null || lag === undefined) throw new Error(`Redis cannot tell the lag of group ${group}`);
    return Number(lag) + Number(info.get('pending'));
  }
  throw new Error(`stream ${stream} has no group ${group}`);
}

/**
 * Events per second the group finished, timed from the moment every worker answered its health
 * check to the moment nothing is left. A worker that is up early starts reading at once; what it
 * finished before the others were ready is left out of both the count and the time.
 */
export async function timeDrain(client: RedisClient, stream: string, group: string, timeoutMs: number) {
  const startedAt = performance.now();
  const backlogAtStart = await groupBacklog(client, stream, group);
  let backlog = backlogAtStart;
  while (backlog > 0) {
    if (performance.now() - startedAt > timeoutMs) {
      throw new Error(`the workers left ${backlog} of ${backlogAtStart} entries after ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
    backlog = await groupBacklog(client, stream, group);
  }
  const seconds = (performance.now() - startedAt) / 1_000;
  return { events: backlogAtStart, eventsPerSecond: backlogAtStart / seconds };
}
