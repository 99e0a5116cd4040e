/** send() under `whenFull: 'error'` with the buffer at `maxBufferedEvents`: the events were not taken. */
export class BufferFullError extends Error {
  override readonly name = 'BufferFullError';
  constructor(
    readonly buffered: number,
    readonly maxBufferedEvents: number,
    readonly refused: number,
  ) {
    super(`The client buffer holds ${buffered} of at most ${maxBufferedEvents} events; ${refused} more do not fit`);
  }
}

/** send() after close() began: the events were not taken. */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError';
  constructor() {
    super('The client is closed');
  }
}
