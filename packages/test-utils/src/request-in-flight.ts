import { connect } from 'node:net';

export interface RequestInFlight {
  /** Sends the rest of the body and resolves with the raw HTTP reply once its JSON body has arrived. */
  finish(): Promise<string>;
}

/**
 * A JSON POST whose body has only begun to arrive, so the server holds it in flight until
 * finish(): for tests of what a server does while it stops.
 */
export async function startRequestInFlight(port: number, path: string, body: unknown): Promise<RequestInFlight> {
  const text = JSON.stringify(body);
  const socket = connect(port, '127.0.0.1');
  let reply = '';
  const answered = new Promise<string>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.endsWith('}')) resolve(reply);
    });
  });
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n`;
  socket.write(head + text.slice(0, 1));
  // Gives the server time to parse the head and start waiting for the body.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return {
    finish: async () => {
      socket.write(text.slice(1));
      try {
        return await answered;
      } finally {
        socket.destroy();
      }
    },
  };
}

/** Sends `request` as raw bytes, for heads no HTTP client would send, and resolves with all the server answered. */
export function rawHttpExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (data) => (received += data.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(request);
  });
}
