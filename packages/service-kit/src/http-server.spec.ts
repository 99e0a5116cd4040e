import { connect } from 'node:net';
import { closeServer, listen } from './http';
import { createLimitedHttpServer, type HttpServerLimits } from './http-server';

const limits: HttpServerLimits = {
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 500,
  maxHeaderBytes: 2_048,
};

/** Writes `chunks` on a raw connection, `gapMs` apart, and resolves with what came back once the server closed it. */
function rawExchange(
  port: number,
  chunks: readonly string[],
  gapMs: number,
): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => (reply += data));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, closedAfterMs: Date.now() - started });
    });
    let next = 0;
    const writeNext = () => {
      if (next >= chunks.length || socket.destroyed) return;
      socket.write(chunks[next++]!);
      timer = setTimeout(writeNext, gapMs);
    };
    writeNext();
  });
}

describe('createLimitedHttpServer', () => {
  // Answers once the whole body is in, as the services' body parsers do.
  const server = createLimitedHttpServer((req, res) => req.resume().on('end', () => res.end('ok')), limits);
  let port: number;

  beforeAll(async () => {
    port = await listen(server, 0, '127.0.0.1');
  });
  afterAll(() => closeServer(server));

  it('cuts off a client that sends its headers byte by byte too slowly, with a JSON 408', async () => {
    const head = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n';
    const { reply, closedAfterMs } = await rawExchange(port, [...head], 50);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply).toContain('{"error":"Request Timeout"}');
    // Cut off after the headers timeout plus at most one sweep of the connections, long before the head was sent.
    expect(closedAfterMs).toBeGreaterThanOrEqual(limits.headersTimeoutMs);
    expect(closedAfterMs).toBeLessThan(limits.headersTimeoutMs + 1_500);
  });

  it('answers an oversized head with a JSON 431', async () => {
    const { reply } = await rawExchange(port, [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4_096)}\r\n\r\n`], 0);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(reply).toMatch(/\r\n\r\n\{"error":"Request Header Fields Too Large"\}$/);
  });

  it('answers an unparsable request with a JSON 400', async () => {
    const { reply } = await rawExchange(port, ['NOT HTTP AT ALL\r\n\r\n'], 0);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toContain('{"error":"Bad Request"}');
  });

  it.each([
    ['an unknown method', 400, 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an oversized head', 431, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4_096)}\r\n\r\n`],
    [
      'a bad chunk size after Expect: 100-continue',
      400,
      'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ],
  ])(
    'answers %s on a keep-alive connection that already served a request with its JSON %i',
    async (_, status, request) => {
      const { reply } = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', request], 100);
      const answers = reply.split(/(?=HTTP\/1\.1 )/);
      expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
      // An interim 100 Continue may come before the answer.
      const last = answers[answers.length - 1]!;
      expect(last).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(last).toMatch(/\r\n\r\n\{"error":"[A-Za-z ]+"\}$/);
    },
  );

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const { reply, closedAfterMs } = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], 0);
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(limits.keepAliveTimeoutMs - 50);
    // Node adds up to a second of grace to the keep-alive timeout.
    expect(closedAfterMs).toBeLessThan(limits.keepAliveTimeoutMs + 2_000);
  });
});
