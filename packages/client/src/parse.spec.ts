import { linesOf, parseCsv, parseNdjson, type ParsedLine } from './parse.ts';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

async function* chunks(...parts: (string | Uint8Array)[]) {
  yield* parts;
}

describe('input parsing', () => {
  it('joins lines split across chunks, a multi-byte character included, and keeps a last line without newline', async () => {
    const bytes = new TextEncoder().encode('ä\n');
    const lines = await collect(linesOf(chunks('ab', 'c\r\nd', bytes.slice(0, 1), bytes.slice(1), 'tail')));
    expect(lines).toEqual([
      { line: 1, text: 'abc' },
      { line: 2, text: 'dä' },
      { line: 3, text: 'tail' },
    ]);
  });

  it('reads a ReadableStream through its reader', async () => {
    const stream = new Blob(['{"source":"s","metric":"m","value":1}\n\n[1]\n{oops\n']).stream();
    expect(await collect<ParsedLine>(parseNdjson(stream))).toEqual([
      { line: 1, event: { source: 's', metric: 'm', value: 1 } },
      { line: 3, error: 'Not a JSON object' },
      { line: 4, error: 'Malformed JSON' },
    ]);
  });

  it('maps CSV columns by the header, leaves empty optional fields out and refuses bad rows by line', async () => {
    const csv = 'value,source,metric,occurredAt\n1.5,s,m,\n"2",s,m,2026-03-01T10:00:00Z\nx,s,m,\n1,s\n';
    expect(await collect<ParsedLine>(parseCsv(chunks(csv)))).toEqual([
      { line: 2, event: { source: 's', metric: 'm', value: 1.5 } },
      { line: 3, event: { source: 's', metric: 'm', value: 2, occurredAt: '2026-03-01T10:00:00Z' } },
      { line: 4, error: 'value "x" is not a number' },
      { line: 5, error: 'Expected 4 fields, found 2' },
    ]);
    await expect(collect(parseCsv(chunks('source,metric,reading\n')))).rejects.toThrow(
      /unknown column "reading", missing column "value"/,
    );
  });
});
