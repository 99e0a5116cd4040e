import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections are closed as they open or send anything, as if the network were gone. */
  refuseConnections: boolean;
  /**
   * Asked for each chunk of an answer: true closes the client's side instead of passing it on, so the
   * server has done the work and the client never learns of it.
   */
  cutAnswer: () => boolean;
  close(): Promise<void>;
}

/** A TCP proxy on a free port in front of 127.0.0.1:`targetPort`, for clients facing a flaky network. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const proxy: TcpProxy = { port: 0, refuseConnections: false, cutAnswer: () => false, close: async () => undefined };
  const server = createServer((client) => {
    if (proxy.refuseConnections) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      if (proxy.refuseConnections) client.destroy();
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (proxy.cutAnswer()) client.destroy();
      else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(proxy, {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}
