import { join } from 'node:path';
import type { RedisClient } from './redis-client';
import { RedisScript } from './redis-script';

const trimScript = RedisScript.load(join(__dirname, 'trim-stream-1.lua'));
const removeIdleConsumersScript = RedisScript.load(join(__dirname, 'remove-idle-consumers-1.lua'));
const leaveGroupScript = RedisScript.load(join(__dirname, 'leave-group-1.lua'));

export interface StreamRetention {
  readonly stream: string;
  readonly group: string;
  readonly retainProcessedCount: number;
  readonly retainProcessedMs: number;
}

export interface TrimOutcome {
  readonly removed: number;
  /** The MINID the stream was trimmed to, or undefined when nothing could go. */
  readonly minId: string | undefined;
}

/** Trims entries the group is done with, outside the retention windows (see trim-stream-1.lua). */
export async function trimStream(client: RedisClient, retention: StreamRetention): Promise<TrimOutcome> {
  const { stream, group, retainProcessedCount, retainProcessedMs } = retention;
  const [removed, minId] = (await trimScript.run(
    client,
    [stream],
    [group, String(retainProcessedCount), String(retainProcessedMs)],
  )) as [number, string];
  return { removed, minId: minId === '' ? undefined : minId };
}

export interface ConsumerCleanup {
  readonly stream: string;
  readonly group: string;
  readonly idleMs: number;
  /** The consumer asking, which is in use whatever its idle time says. */
  readonly self: string;
}

/** Removes idle consumers that hold no pending entries; answers their names. */
export async function removeIdleConsumers(
  client: RedisClient,
  { stream, group, idleMs, self }: ConsumerCleanup,
): Promise<string[]> {
  return (await removeIdleConsumersScript.run(client, [stream], [group, String(idleMs), self])) as string[];
}

/**
 * A worker that stops cleanly leaves the group, so the summary stops counting it at once, on every
 * Redis version; one that still holds entries stays until others reclaim them and maintenance removes it.
 */
export async function leaveGroup(
  client: RedisClient,
  stream: string,
  group: string,
  consumer: string,
): Promise<boolean> {
  return (await leaveGroupScript.run(client, [stream], [group, consumer])) === 1;
}
