import { createConnection } from 'node:net';

/** A RESP2 reply; nested error replies (inside EXEC results) stay values. */
export type RespReply = string | number | null | RedisReplyError | RespReply[];

export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError';
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

interface Parsed {
  readonly value: RespReply;
  readonly next: number;
}

/** Parses one reply starting at `offset`, or returns undefined while it has not fully arrived. */
function parseReply(buffer: Buffer, offset: number): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (String.fromCharCode(buffer[offset]!)) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RedisReplyError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let index = 0; index < count; index++) {
        const item = parseReply(buffer, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte in ${JSON.stringify(buffer.toString('utf8', offset, lineEnd))}`);
  }
}

/**
 * Sends one command to the Redis on 127.0.0.1:`port` over a fresh connection and returns its reply.
 * Deliberately independent of node-redis: tests use it to observe and steer servers (topology, roles,
 * failovers) without going through the client under test and its routing.
 */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 2_000): Promise<RespReply> {
  const [reply] = await redisPipeline(port, [args], timeoutMs);
  return reply!;
}

/**
 * Sends commands over one fresh connection and returns their replies, rejecting on the first error
 * reply. One connection matters for commands about the connection's own earlier writes, e.g. WAIT.
 */
export function redisPipeline(
  port: number,
  commands: readonly (readonly string[])[],
  timeoutMs = 2_000,
): Promise<RespReply[]> {
  const what = `${commands.map((args) => args[0]).join(', ')} on port ${port}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const replies: RespReply[] = [];
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`${what} got no reply within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('close', () => fail(new Error(`${what}: connection closed before every reply`)));
    socket.once('connect', () => socket.write(commands.map(encodeCommand).join('')));
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      try {
        let reply: Parsed | undefined;
        while ((reply = parseReply(received, 0))) {
          if (reply.value instanceof RedisReplyError) throw reply.value;
          replies.push(reply.value);
          received = received.subarray(reply.next);
        }
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (replies.length < commands.length) return;
      socket.destroy();
      resolve(replies);
    });
  });
}
