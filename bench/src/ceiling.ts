import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { RedisClient, RollupStore } from '@redis-ingest/redis-schema';
import { deviceReading } from './workload';

const run = promisify(execFile);

/** redis-benchmark -q prints progress lines and then "<command>: <n> requests per second, ..."; the last figure is the result. */
export function parseRequestsPerSecond(output: string): number {
  const figures = [...output.matchAll(/([\d.]+) requests per second/g)];
  const last = figures[figures.length - 1];
  if (!last) throw new Error(`redis-benchmark printed no "requests per second":\n${output}`);
  return Number(last[1]);
}

/**
 * The most XADDs per second this Redis takes with the ingest's field layout, pipelined 64 deep over
 * redis-benchmark's 50 connections: the ceiling any ingest path through this server is held to.
 */
export async function xaddCeiling(url: string, streamKey: string, requests: number): Promise<number> {
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-u',
      url,
      '-P',
      '64',
      '-n',
      String(requests),
      '-q',
      'XADD',
      streamKey,
      '*',
      'source',
      's',
      'metric',
      'm',
      'value',
      '1',
      'occurredAt',
      '2026-01-01T00:00:00Z',
    ],
    { maxBuffer: 16 * 1_048_576 },
  );
  return parseRequestsPerSecond(stdout);
}

export const STORE_BATCH_SIZE = 1_000;

/**
 * Samples per second `addSamples` writes from this process in batches of 1,000, one batch at a time
 * as a worker does, over `series` series visited in turn (each batch touches 1,000 different
 * series, like a worker's read of a busy fleet). No stream, no decoding: the most a worker can reach.
 */
export async function rawStoreWriteRate(
  store: RollupStore,
  samples: number,
  series: number,
  baseMs: number,
): Promise<number> {
  const startedAt = performance.now();
  await writeDeviceReadings(store, samples, series, baseMs);
  return samples / ((performance.now() - startedAt) / 1_000);
}

/**
 * The fleet's first `samples` readings (deviceReading) through `addSamples`, a batch of 1,000 at a
 * time and in order, so each series' samples arrive oldest first; throws when the store refuses one.
 */
export async function writeDeviceReadings(
  store: RollupStore,
  samples: number,
  series: number,
  baseMs: number,
): Promise<void> {
  for (let first = 0; first < samples; first += STORE_BATCH_SIZE) {
    const batch = Array.from({ length: Math.min(STORE_BATCH_SIZE, samples - first) }, (_, i) =>
      deviceReading(first + i, series, baseMs),
    );
    const results = await store.addSamples(batch);
    const refused = results.find((result) => !result.ok);
    if (refused && !refused.ok) throw new Error(`the store refused a sample: ${refused.reason}`);
  }
}

/** One `field:value` line of an INFO reply. */
export function infoField(info: string, field: string): string {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  if (!match) throw new Error(`INFO has no ${field}`);
  return match[1]!.trim();
}

export async function redisInfoField(client: RedisClient, section: string, field: string): Promise<string> {
  return infoField((await client.sendCommand(['INFO', section])) as unknown as string, field);
}

/** A configuration parameter's value; rejects where the server refuses CONFIG, as managed ones may. */
export async function redisConfigValue(client: RedisClient, parameter: string): Promise<string> {
  const [, value] = (await client.sendCommand(['CONFIG', 'GET', parameter])) as unknown as [string, string];
  return value;
}
