import { ClusterRoutingError, commandRoute } from './command-route';

describe('commandRoute', () => {
  it('routes a command by its first argument', () => {
    expect(commandRoute(['XADD', 'events:{p0}', '*', 'a', '1'])).toEqual({ to: 'slot', key: 'events:{p0}' });
    expect(commandRoute(['zrange', 'series', '0', '-1'])).toEqual({ to: 'slot', key: 'series' });
    expect(commandRoute(['XAUTOCLAIM', 'events', 'group', 'consumer', '1000', '0-0'])).toEqual({
      to: 'slot',
      key: 'events',
    });
    expect(commandRoute(['TS.MADD', 'a{x}', '1', '1', 'b{x}', '1', '2'])).toEqual({ to: 'slot', key: 'a{x}' });
    expect(commandRoute(['TS.INFO', 'probe'])).toEqual({ to: 'slot', key: 'probe' });
  });

  it('routes a script by its first key, and a script without keys to any primary', () => {
    expect(commandRoute(['EVALSHA', 'abc', '2', 'k1{t}', 'k2{t}', 'arg'])).toEqual({ to: 'slot', key: 'k1{t}' });
    expect(commandRoute(['EVAL', 'return 1', '1', 'k'])).toEqual({ to: 'slot', key: 'k' });
    expect(commandRoute(['EVAL', 'return 1', '0'])).toEqual({ to: 'any-primary' });
  });

  it('routes stream reads by the first stream after STREAMS', () => {
    expect(
      commandRoute(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '10', 'BLOCK', '100', 'STREAMS', 's{p1}', '>']),
    ).toEqual({
      to: 'slot',
      key: 's{p1}',
    });
    expect(commandRoute(['XREAD', 'streams', 's', '0'])).toEqual({ to: 'slot', key: 's' });
  });

  it('routes XINFO and XGROUP by the key after the subcommand', () => {
    expect(commandRoute(['XINFO', 'GROUPS', 'events'])).toEqual({ to: 'slot', key: 'events' });
    expect(commandRoute(['XGROUP', 'CREATE', 'events', 'g', '0', 'MKSTREAM'])).toEqual({ to: 'slot', key: 'events' });
  });

  it('sends script loads and pings to every primary, and INFO and MODULE to one', () => {
    expect(commandRoute(['SCRIPT', 'LOAD', 'return 1'])).toEqual({ to: 'every-primary' });
    expect(commandRoute(['PING'])).toEqual({ to: 'every-primary' });
    expect(commandRoute(['INFO', 'server'])).toEqual({ to: 'any-primary' });
    expect(commandRoute(['MODULE', 'LIST'])).toEqual({ to: 'any-primary' });
  });

  it('refuses what no single route answers, saying why', () => {
    expect(() => commandRoute(['WAIT', '1', '100'])).toThrow(ClusterRoutingError);
    expect(() => commandRoute(['WAIT', '1', '100'])).toThrow(/^WAIT cannot be sent .*waitForReplicas/);
    expect(() => commandRoute(['TS.MRANGE', '0', '+', 'FILTER', 'a=b'])).toThrow(/series of the shard it runs on/);
    expect(() => commandRoute(['CLIENT', 'LIST'])).toThrow(ClusterRoutingError);
    expect(() => commandRoute(['XREADGROUP', 'GROUP', 'g', 'c'])).toThrow(/STREAMS/);
    expect(() => commandRoute(['XLEN'])).toThrow(/no key/);
  });
});
