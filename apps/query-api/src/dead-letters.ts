import { Router, type RequestHandler } from 'express';
import { parseDeadLetter, replayFields, type DeadLetter, type Keys, type RedisClient } from '@redis-ingest/redis-schema';
import { jsonBody } from '@redis-ingest/service-kit';
import { compileBody, compileQuery, deadLetterQuerySchema, deadLetterSelectionSchema } from './query-params';

export const DEAD_LETTERS_PATH = '/api/ingest/dead-letters';

const DEFAULT_PAGE = 10;

/** Dead letters read, replayed and deleted per round trip when a request covers all of them. */
export const REPLAY_PAGE_SIZE = 500;

/** A thousand stream ids fit well within this. */
const BODY_LIMIT_BYTES = 64 * 1024;

export interface DeadLetterPage {
  readonly deadLetters: DeadLetter[];
  /** The last id of this page, for `cursor`; null on the last page. */
  readonly next: string | null;
}

/** One page of dead letters, newest first, starting after `cursor`. */
export async function listDeadLetters(client: RedisClient, key: string, count: number, cursor?: string): Promise<DeadLetterPage> {
  const entries = await client.xRevRange(key, cursor === undefined ? '+' : `(${cursor}`, '-', { COUNT: count + 1 });
  const page = entries.slice(0, count);
  return {
    deadLetters: page.map(({ id, message }) => parseDeadLetter(id, message)),
    next: entries.length > count ? page[page.length - 1]!.id : null,
  };
}

/** The chosen dead letters that exist, and the ids that do not. */
async function findDeadLetters(client: RedisClient, key: string, ids: readonly string[]): Promise<{ found: DeadLetter[]; missing: string[] }> {
  // Issued together, so node-redis pipelines them.
  const entries = await Promise.all(ids.map((id) => client.xRange(key, id, id)));
  const found: DeadLetter[] = [];
  const missing: string[] = [];
  entries.forEach(([entry], i) => {
    if (entry === undefined) missing.push(ids[i]!);
    else found.push(parseDeadLetter(entry.id, entry.message));
  });
  return { found, missing };
}

/**
 * Puts dead letters back on the main stream with their failure appended to the history, then
 * removes them from the dead-letter stream. The two streams may sit in different Cluster slots, so
 * no transaction spans both steps: a crash in between leaves an entry in both streams, and a later
 * replay adds it again. That is at-least-once delivery, a duplicate event (its samples overwrite
 * themselves, as repeated timestamps keep the last value) and a duplicate dead letter at worst,
 * never a lost one. Returns the new main-stream ids in order.
 */
async function replay(client: RedisClient, keys: Keys, deadLetters: readonly DeadLetter[]): Promise<string[]> {
  if (deadLetters.length === 0) return [];
  const ids = await Promise.all(deadLetters.map((deadLetter) => client.xAdd(keys.stream, '*', replayFields(deadLetter))));
  await client.xDel(keys.deadLetter, deadLetters.map(({ id }) => id));
  return ids;
}

/** The newest dead-letter id now; entries added later are not part of an `all` request. */
async function newestId(client: RedisClient, key: string): Promise<string | undefined> {
  const [newest] = await client.xRevRange(key, '+', '-', { COUNT: 1 });
  return newest?.id;
}

/** Replays every dead letter present at the start, a page at a time. */
async function replayAll(client: RedisClient, keys: Keys): Promise<string[]> {
  const last = await newestId(client, keys.deadLetter);
  const replayed: string[] = [];
  let start = '-';
  while (last !== undefined) {
    const page = await client.xRange(keys.deadLetter, start, last, { COUNT: REPLAY_PAGE_SIZE });
    replayed.push(...(await replay(client, keys, page.map(({ id, message }) => parseDeadLetter(id, message)))));
    if (page.length < REPLAY_PAGE_SIZE) break;
    start = `(${page[page.length - 1]!.id}`;
  }
  return replayed;
}

/** The smallest stream id after `id`. */
function nextStreamId(id: string): string {
  const [ms, seq] = id.split('-').map(BigInt) as [bigint, bigint];
  return seq === 2n ** 64n - 1n ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

async function deleteAll(client: RedisClient, key: string): Promise<number> {
  const last = await newestId(client, key);
  if (last === undefined) return 0;
  // Ids only grow, so trimming below the successor of the newest id spares whatever arrives meanwhile.
  return client.xTrim(key, 'MINID', nextStreamId(last));
}

async function deleteChosen(client: RedisClient, key: string, ids: readonly string[]): Promise<{ deleted: number; missing: string[] }> {
  const removed = await Promise.all(ids.map((id) => client.xDel(key, id)));
  return { deleted: removed.filter((count) => count === 1).length, missing: ids.filter((_, i) => removed[i] !== 1) };
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
    res.json(await listDeadLetters(redis, keys.deadLetter, count, cursor));
  });

  router.post('/replay', authorizeChange, ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    const { ids } = parseSelection(req.body);
    if (ids === undefined) {
      const replayed = await replayAll(redis, keys);
      res.json({ replayed: replayed.length, ids: replayed, missing: [] });
      return;
    }
    const { found, missing } = await findDeadLetters(redis, keys.deadLetter, ids);
    const replayed = await replay(redis, keys, found);
    res.json({ replayed: replayed.length, ids: replayed, missing });
  });

  router.post('/delete', authorizeChange, ...jsonBody(BODY_LIMIT_BYTES), async (req, res) => {
    const { ids } = parseSelection(req.body);
    if (ids === undefined) {
      res.json({ deleted: await deleteAll(redis, keys.deadLetter), missing: [] });
      return;
    }
    res.json(await deleteChosen(redis, keys.deadLetter, ids));
  });

  return router;
}
