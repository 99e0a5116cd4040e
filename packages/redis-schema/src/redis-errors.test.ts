import { ErrorReply, SocketClosedUnexpectedlyError, TimeoutError } from '@redis/client';
import { freePort, startRedisServer, type RedisServer } from '@redis-ingest/test-utils';
import { createRedisClient } from './redis';
import {
  classifyRedisError,
  isConnectionError,
  isTransientRedisError,
  redisErrorCode,
  redisErrorReason,
  wroteNothing,
} from './redis-errors';

const quiet = { warn: () => undefined };

describe('classifyRedisError', () => {
  it.each([
    ["OOM command not allowed when used memory > 'maxmemory'.", 'oom'],
    ["OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:54.", 'oom'],
    ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.', 'busy'],
    ["READONLY You can't write against a read only replica.", 'readonly'],
    ['LOADING Redis is loading the dataset in memory', 'loading'],
    ['MISCONF Errors writing to the AOF file: No space left on device', 'misconf'],
    ['NOSCRIPT No matching script. Please use EVAL.', 'noscript'],
    ["CROSSSLOT Keys in request don't hash to the same slot", 'cluster'],
    ['MOVED 3999 127.0.0.1:6381', 'cluster'],
    ['ASK 3999 127.0.0.1:6381', 'cluster'],
    ['TRYAGAIN Multiple keys request during rehashing of slot', 'cluster'],
    ['CLUSTERDOWN The cluster is down', 'cluster'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'wrongtype'],
    ["NOPERM this user has no permissions to run the 'config|get' command", 'noperm'],
    ['ERR Invalid stream ID specified as stream command argument', 'other'],
    ['BACKPRESSURE 12', 'other'],
  ])('reads the reply %s as %s', (message, kind) => {
    expect(classifyRedisError(new ErrorReply(message))).toBe(kind);
  });

  it('tells a timeout (the command may have run) from a lost connection', () => {
    expect(classifyRedisError(new TimeoutError())).toBe('timeout');
    expect(classifyRedisError(new SocketClosedUnexpectedlyError())).toBe('connection');
    expect(classifyRedisError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      'connection',
    );
  });

  it('leaves errors that did not come from Redis alone', () => {
    expect(classifyRedisError(new Error('OOM but not from Redis'))).toBeUndefined();
    expect(classifyRedisError(undefined)).toBeUndefined();
    expect(redisErrorCode(new Error('NOSCRIPT'))).toBeUndefined();
  });

  it('says which failures a retry can get past and which wrote nothing', () => {
    expect(isTransientRedisError(new ErrorReply('LOADING Redis is loading'))).toBe(true);
    expect(isTransientRedisError(new ErrorReply('WRONGTYPE Operation'))).toBe(false);
    expect(wroteNothing(new ErrorReply('OOM command not allowed'))).toBe(true);
    expect(wroteNothing(new TimeoutError())).toBe(false);
    expect(wroteNothing(new ErrorReply('ERR something inside a script'))).toBe(false);
    expect(isConnectionError(new ErrorReply('MOVED 3999 127.0.0.1:6381'))).toBe(false);
    expect(isConnectionError(new ErrorReply('CLUSTERDOWN The cluster is down'))).toBe(true);
  });

  it('reads the code and the reason of an ERR reply', () => {
    expect(redisErrorCode(new ErrorReply('BUSYGROUP Consumer Group name already exists'))).toBe('BUSYGROUP');
    expect(redisErrorReason(new ErrorReply('ERR no such key'))).toBe('no such key');
    expect(redisErrorReason(new ErrorReply('WRONGTYPE Operation'))).toBeUndefined();
  });
});

describe('classifyRedisError against a real server', () => {
  let server: RedisServer;
  let client: ReturnType<typeof createRedisClient>;

  beforeAll(async () => {
    server = await startRedisServer();
    client = createRedisClient(server.url, { name: 'redis-errors-test', logger: quiet });
    await client.connect();
  });

  afterAll(async () => {
    client.destroy();
    await server.stop();
  });

  const failure = (args: string[]) =>
    client.sendCommand(args).then(
      () => undefined,
      (error: unknown) => error,
    );

  it('classifies the replies Redis actually sends', async () => {
    await client.sendCommand(['SET', 'errors:string', 'x']);
    expect(classifyRedisError(await failure(['XLEN', 'errors:string']))).toBe('wrongtype');
    expect(classifyRedisError(await failure(['EVALSHA', '0'.repeat(40), '0']))).toBe('noscript');
    expect(redisErrorReason(await failure(['XINFO', 'STREAM', 'errors:missing']))).toBe('no such key');
    expect(classifyRedisError(await failure(['XADD', 'errors:stream', '18446744073709551616-0', 'f', 'v']))).toBe(
      'other',
    );
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '1']);
    try {
      const refused = await failure(['SET', 'errors:more', 'y']);
      expect(classifyRedisError(refused)).toBe('oom');
      expect(wroteNothing(refused)).toBe(true);
    } finally {
      await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
    }
  });

  it('classifies a command sent while the server is unreachable as a lost connection', async () => {
    const unreachable = createRedisClient(`redis://127.0.0.1:${await freePort()}`, {
      name: 'redis-errors-test',
      logger: quiet,
    });
    // connect() keeps retrying in the background and never settles while nothing listens.
    void unreachable.connect().catch(() => undefined);
    try {
      expect(classifyRedisError(await unreachable.sendCommand(['PING']).catch((error: unknown) => error))).toBe(
        'connection',
      );
    } finally {
      unreachable.destroy();
    }
  });
});
