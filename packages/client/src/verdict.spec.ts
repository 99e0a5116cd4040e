import { backoffDelayMs, parseRetryAfter } from './retry.ts';
import { judge } from './verdict.ts';
import { compressBody, frameBatch, serializeEvent } from './wire.ts';

const events = ['a', 'b', 'c', 'd'].map((source, n) => ({ source, metric: 'm', value: n, eventId: `e${n}` }));

describe('judge', () => {
  it('accepts a 202 batch but the events it rejected by index', () => {
    const verdict = judge(
      202,
      {
        accepted: 3,
        ids: ['1-0', '1-1', '1-2'],
        duplicates: 1,
        rejected: [{ index: 2, errors: [{ path: '/source', message: 'bad' }] }],
      },
      events,
    );
    expect(verdict).toMatchObject({
      accepted: [0, 1, 3],
      duplicates: 1,
      retry: [],
      rejected: [{ position: 2, message: 'Invalid event', errors: [{ path: '/source', message: 'bad' }] }],
    });
  });

  it('resends exactly the notAppended events of a partial 503 and settles the rest', () => {
    const answer = {
      error: 'Only some events were appended',
      appended: [
        { index: 0, id: '1-0', duplicate: true },
        { index: 3, id: '1-1', duplicate: false },
      ],
      notAppended: [{ index: 1, reason: 'unavailable' }],
      rejected: [{ index: 2, errors: [] }],
    };
    expect(judge(503, answer, events)).toMatchObject({
      accepted: [0, 3],
      duplicates: 1,
      retry: [1],
      rejected: [{ position: 2 }],
    });
  });

  it.each([408, 429, 500, 503])('retries every event of a %i', (status) => {
    expect(judge(status, { error: 'later' }, events)).toMatchObject({
      accepted: [],
      rejected: [],
      retry: [0, 1, 2, 3],
    });
  });

  it('rejects each event of a 401 with the server message, and retries none', () => {
    const verdict = judge(401, { error: 'A device key is required' }, events);
    expect(verdict.retry).toEqual([]);
    expect(verdict.rejected).toEqual(
      events.map((_, position) => ({ position, message: 'A device key is required', errors: [] })),
    );
  });

  it('rejects the events of forbidden sources and resends the others at once', () => {
    expect(judge(403, { error: 'forbidden', forbiddenSources: ['b', 'd'] }, events)).toMatchObject({
      rejected: [
        { position: 1, message: 'forbidden' },
        { position: 3, message: 'forbidden' },
      ],
      resend: [0, 2],
      retry: [],
    });
    expect(judge(403, { error: 'forbidden', forbiddenSources: ['zz'] }, events).rejected).toHaveLength(4);
  });

  it('splits a 413 batch, and rejects a single event the server finds too large', () => {
    expect(judge(413, { error: 'too large' }, events)).toMatchObject({ split: true, retry: [0, 1, 2, 3] });
    expect(judge(413, { error: 'too large' }, events.slice(0, 1))).toMatchObject({
      split: false,
      retry: [],
      rejected: [{ position: 0, message: 'too large' }],
    });
  });

  it('names every event of a 400 batch, with its own errors where the answer has them', () => {
    const verdict = judge(
      400,
      {
        error: 'No event of the batch is valid',
        rejected: [{ index: 1, errors: [{ path: '/value', message: 'Expected number' }] }],
      },
      events,
    );
    expect(verdict.rejected.map(({ position }) => position).sort()).toEqual([0, 1, 2, 3]);
    expect(verdict.rejected.find(({ position }) => position === 1)!.errors).toEqual([
      { path: '/value', message: 'Expected number' },
    ]);
  });

  it('decides by status alone when the body is not JSON', () => {
    expect(judge(502, undefined, events).retry).toEqual([0, 1, 2, 3]);
    expect(judge(404, undefined, events).rejected[0]).toEqual({ position: 0, message: 'HTTP 404', errors: [] });
  });
});

describe('backoff', () => {
  const settings = { initialDelayMs: 100, maxDelayMs: 1000 };

  it('draws uniformly below a doubling ceiling capped at the maximum', () => {
    expect(backoffDelayMs(0, settings, undefined, () => 0.999)).toBe(99);
    expect(backoffDelayMs(2, settings, undefined, () => 0.5)).toBe(200);
    expect(backoffDelayMs(20, settings, undefined, () => 0.999)).toBe(999);
    expect(backoffDelayMs(3, settings, undefined, () => 0)).toBe(0);
  });

  it('waits at least what Retry-After asks', () => {
    expect(backoffDelayMs(0, settings, 2000, () => 0.5)).toBe(2000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('wire format', () => {
  const lines = [serializeEvent({ a: 1 }), serializeEvent({ b: 2 })];
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it('frames NDJSON and JSON arrays', () => {
    expect(text(frameBatch('ndjson', lines))).toBe('{"a":1}\n{"b":2}\n');
    expect(text(frameBatch('json', lines))).toBe('[{"a":1},{"b":2}]');
  });

  it('gzips under auto only when the body is large enough and shrinks', async () => {
    const repetitive = new TextEncoder().encode('{"source":"s","metric":"m","value":1}\n'.repeat(100));
    const small = new TextEncoder().encode('{"a":1}');
    const random = crypto.getRandomValues(new Uint8Array(4096));
    expect((await compressBody(repetitive, 'auto', 1024)).gzipped).toBe(true);
    expect((await compressBody(small, 'auto', 1024)).gzipped).toBe(false);
    expect((await compressBody(random, 'auto', 1024)).gzipped).toBe(false);
    expect((await compressBody(small, 'gzip', 1024)).gzipped).toBe(true);
    const { body } = await compressBody(repetitive, 'auto', 1024);
    const inflated = new Uint8Array(
      await new Response(new Blob([body]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer(),
    );
    expect(inflated).toEqual(repetitive);
  });
});
