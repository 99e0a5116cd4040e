export type WireFormat = 'ndjson' | 'json';
export type Compression = 'auto' | 'gzip' | 'none';

/** Bytes backed by a plain ArrayBuffer, as fetch and Blob take them. */
export type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const COMMA = 0x2c;

// TextEncoder always returns a fresh, unshared buffer; some lib typings only say ArrayBufferLike.
export const serializeEvent = (event: object): Bytes => encoder.encode(JSON.stringify(event)) as Bytes;

/** What a batch of serialized events adds to a body beyond the events themselves. */
export const framingBytes = (format: WireFormat, events: number): number => (format === 'ndjson' ? events : events + 1);

/** One request body: one event per line, or a JSON array. */
export function frameBatch(format: WireFormat, lines: readonly Bytes[]): Bytes {
  const size = lines.reduce((total, line) => total + line.length, 0) + framingBytes(format, lines.length);
  const body = new Uint8Array(size);
  let offset = 0;
  if (format === 'json') body[offset++] = 0x5b;
  lines.forEach((line, n) => {
    body.set(line, offset);
    offset += line.length;
    if (format === 'ndjson') body[offset++] = NEWLINE;
    else body[offset++] = n === lines.length - 1 ? 0x5d : COMMA;
  });
  return body;
}

export const contentType = (format: WireFormat) => (format === 'ndjson' ? 'application/x-ndjson' : 'application/json');

/** Every runtime the client targets has CompressionStream; one that lacks it sends bodies as they are. */
const canGzip = () => typeof globalThis.CompressionStream === 'function';

async function gzip(body: Bytes): Promise<Bytes> {
  const compressed = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}

/** A gzip that saves less than this share of the body is not worth the server's time to inflate. */
const WORTHWHILE_RATIO = 0.9;

/**
 * The body as sent: gzipped when asked, or under 'auto' when it is at least `minBytes` long and gzip
 * shrinks it enough to pay for the work on both ends.
 */
export async function compressBody(
  body: Bytes,
  compression: Compression,
  minBytes: number,
): Promise<{ body: Bytes; gzipped: boolean }> {
  if (compression === 'none' || !canGzip() || (compression === 'auto' && body.length < minBytes))
    return { body, gzipped: false };
  const compressed = await gzip(body);
  if (compression === 'auto' && compressed.length > body.length * WORTHWHILE_RATIO) return { body, gzipped: false };
  return { body: compressed, gzipped: true };
}
