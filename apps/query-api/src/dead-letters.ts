import { Router, type RequestHandler } from 'express';
import {
  parseDeadLetter,
  replayFields,
  type DeadLetter,
  type FieldError,
  type Keys,
  type RedisClient,
  type StreamPartition,
} from '@redis-ingest/redis-schema';
import { jsonBody } from '@redis-ingest/service-kit';
import { compileBody, compileQuery, deadLetterQuerySchema, deadLetterSelectionSchema, invalid } from './query-params';
import { compareStreamIds, formatEntryRef, mergeNewestFirst, nextStreamId, parseEntryRef } from './stream-ids';

export const DEAD_LETTERS_PATH = '/api/ingest/dead-letters';

const DEFAULT_PAGE = 10;

/** Dead letters read, replayed and deleted per round trip when a request covers all of them. */
export const REPLAY_PAGE_SIZE = 500;

/** A thousand stream ids fit well within this. */
const BODY_LIMIT_BYTES = 64 * 1024;

type Partitions = Keys['partitions'];

export interface DeadLetterPage {
  /** Newest first across every partition; each `id` as formatEntryRef spells it. */
  readonly deadLetters: DeadLetter[];
  /** The last id of this page, for `cursor`; null on the last page. */
  readonly next: string | null;
}

/** The stream ids below `id`, as an XREVRANGE end; none lie below 0-0, which Redis refuses to exclude. */
const below = (id: string): string | undefined => (compareStreamIds(id, '0-0') === 0 ? undefined : `(${id}`);

/**
 * One page of dead letters, newest first across the partitions, starting after `cursor`. Equal ids
 * merge in partition order, so the cursor's partition and those before it resume below its id and
 * later ones at it; a bare id resumes below it everywhere.
 */
export async function listDeadLetters(
  client: RedisClient,
  partitions: Partitions,
  count: number,
  cursor?: string,
): Promise<DeadLetterPage> {
  const after = cursor === undefined ? undefined : parseEntryRef(cursor);
  const end = (index: number) => {
    if (after === undefined) return '+';
    return after.partition !== undefined && index > after.partition ? after.id : below(after.id);
  };
  const lists = await Promise.all(
    partitions.map(({ index, deadLetter }) => {
      const from = end(index);
      return from === undefined ? [] : client.xRevRange(deadLetter, from, '-', { COUNT: count + 1 });
    }),
  );
  const merged = mergeNewestFirst(lists, count + 1);
  const page = merged.slice(0, count);
  const refOf = ({ partition, entry }: (typeof merged)[number]) =>
    formatEntryRef({ partition, id: entry.id }, partitions.length);
  return {
    deadLetters: page.map((item) => parseDeadLetter(refOf(item), item.entry.message)),
    next: merged.length > count ? refOf(page[page.length - 1]!) : null,
  };
}

/** A requested id and the partition it names; none when the stream has no such partition. */
interface Selected {
  readonly text: string;
  readonly partition: StreamPartition | undefined;
  readonly id: string;
}

/** A dead letter (`id` its own stream's id) and the partition whose dead-letter stream holds it. */
interface Located {
  readonly partition: StreamPartition;
  readonly deadLetter: DeadLetter;
}

/** Resolves requested ids to partitions; a bare id is ambiguous, hence refused, once there are several. */
function resolveSelection(ids: readonly string[], partitions: Partitions): Selected[] {
  const errors: FieldError[] = [];
  const selected = ids.map((text, i) => {
    const { partition, id } = parseEntryRef(text);
    if (partition === undefined && partitions.length > 1) {
      errors.push({
        path: `/ids/${i}`,
        message: `Names no partition; the stream has ${partitions.length}, so ids read <partition>:<stream id>`,
      });
    }
    return { text, partition: partitions[partition ?? 0], id };
  });
  if (errors.length > 0) throw invalid('request body', errors);
  return selected;
}

/** The chosen dead letters that exist, each once however it was spelled, and the ids that do not. */
async function findDeadLetters(
  client: RedisClient,
  selected: readonly Selected[],
): Promise<{ found: Located[]; missing: string[] }> {
  // Issued together, so node-redis pipelines them.
  const entries = await Promise.all(
    selected.map(({ partition, id }) => (partition === undefined ? [] : client.xRange(partition.deadLetter, id, id))),
  );
  const found = new Map<string, Located>();
  const missing: string[] = [];
  entries.forEach(([entry], i) => {
    const { text, partition } = selected[i]!;
    if (entry === undefined || partition === undefined) missing.push(text);
    else
      found.set(`${partition.index}:${entry.id}`, { partition, deadLetter: parseDeadLetter(entry.id, entry.message) });
  });
  return { found: [...found.values()], missing };
}

/**
 * Puts dead letters back on their own partition's stream, the one the worker read them from, with
 * their failure appended to the history, then removes them from that partition's dead-letter
 * stream. No transaction spans both steps: a crash in between leaves an entry in both streams, and
 * a later replay adds it again. That is at-least-once delivery, a duplicate event (its samples
 * overwrite themselves, as repeated timestamps keep the last value) and a duplicate dead letter at
 * worst, never a lost one. Returns the new stream entries' ids in order.
 */
async function replay(client: RedisClient, located: readonly Located[], partitionCount: number): Promise<string[]> {
  if (located.length === 0) return [];
  const ids = await Promise.all(
    located.map(({ partition, deadLetter }) => client.xAdd(partition.stream, '*', replayFields(deadLetter))),
  );
  const replayedByPartition = new Map<StreamPartition, string[]>();
  for (const { partition, deadLetter } of located)
    replayedByPartition.set(partition, [...(replayedByPartition.get(partition) ?? []), deadLetter.id]);
  await Promise.all(
    [...replayedByPartition].map(([partition, replayed]) => client.xDel(partition.deadLetter, replayed)),
  );
  return ids.map((id, i) => formatEntryRef({ partition: located[i]!.partition.index, id }, partitionCount));
}

/** The newest dead-letter id now; entries added later are not part of an `all` request. */
async function newestId(client: RedisClient, key: string): Promise<string | undefined> {
  const [newest] = await client.xRevRange(key, '+', '-', { COUNT: 1 });
  return newest?.id;
}

/** Replays every dead letter one partition held at the start, a page at a time. */
async function replayPartition(
  client: RedisClient,
  partition: StreamPartition,
  partitionCount: number,
): Promise<string[]> {
  const last = await newestId(client, partition.deadLetter);
  const replayed: string[] = [];
  let start = '-';
  while (last !== undefined) {
    const page = await client.xRange(partition.deadLetter, start, last, { COUNT: REPLAY_PAGE_SIZE });
    const located = page.map(({ id, message }) => ({ partition, deadLetter: parseDeadLetter(id, message) }));
    replayed.push(...(await replay(client, located, partitionCount)));
    if (page.length < REPLAY_PAGE_SIZE) break;
    start = `(${page[page.length - 1]!.id}`;
  }
  return replayed;
}

/** Every partition's dead letters, the partitions side by side and their new ids in partition order. */
async function replayAll(client: RedisClient, partitions: Partitions): Promise<string[]> {
  return (
    await Promise.all(partitions.map((partition) => replayPartition(client, partition, partitions.length)))
  ).flat();
}

async function deletePartition(client: RedisClient, key: string): Promise<number> {
  const last = await newestId(client, key);
  if (last === undefined) return 0;
  // Ids only grow, so trimming below the successor of the newest id spares whatever arrives meanwhile.
  return client.xTrim(key, 'MINID', nextStreamId(last));
}

async function deleteAll(client: RedisClient, partitions: Partitions): Promise<number> {
  const deleted = await Promise.all(partitions.map(({ deadLetter }) => deletePartition(client, deadLetter)));
  return deleted.reduce((sum, count) => sum + count, 0);
}

async function deleteChosen(
  client: RedisClient,
  selected: readonly Selected[],
): Promise<{ deleted: number; missing: string[] }> {
  const removed = await Promise.all(
    selected.map(({ partition, id }) => (partition === undefined ? 0 : client.xDel(partition.deadLetter, id))),
  );
  return {
    deleted: removed.filter((count) => count === 1).length,
    missing: selected.filter((_, i) => removed[i] !== 1).map(({ text }) => text),
  };
}

export interface DeadLetterDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly maxPage: number;
  /** Runs before replay and delete read their body: only some callers may change dead letters. */
  readonly authorizeChange: RequestHandler;
}

/** Every dead-letter operation lives on this one router. */
export function deadLetterRouter({ redis, keys, maxPage, authorizeChange }: DeadLetterDeps): Router {
  const parseQuery = compileQuery(deadLetterQuerySchema(maxPage));
  const parseSelection = compileBody(deadLetterSelectionSchema);
  const router = Router();

  router.get('/', async (req, res) => {
    const { count = Math.min(DEFAULT_PAGE, maxPage), cursor } = parseQuery(req.query);
    res.json(await listDeadLetters(redis, keys.partitions, count, cursor));
  });

  router.post('/replay', authorizeChange, ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    const { ids } = parseSelection(req.body);
    if (ids === undefined) {
      const replayed = await replayAll(redis, keys.partitions);
      res.json({ replayed: replayed.length, ids: replayed, missing: [] });
      return;
    }
    const { found, missing } = await findDeadLetters(redis, resolveSelection(ids, keys.partitions));
    const replayed = await replay(redis, found, keys.partitions.length);
    res.json({ replayed: replayed.length, ids: replayed, missing });
  });

  router.post('/delete', authorizeChange, ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    const { ids } = parseSelection(req.body);
    if (ids === undefined) {
      res.json({ deleted: await deleteAll(redis, keys.partitions), missing: [] });
      return;
    }
    res.json(await deleteChosen(redis, resolveSelection(ids, keys.partitions)));
  });

  return router;
}
