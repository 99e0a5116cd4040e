import { classifySlowCalls, type SlowLogEntry } from './slow-log';

const entry = (micros: number, ...args: string[]): SlowLogEntry => [
  1,
  1_700_000_000,
  micros,
  args,
  '127.0.0.1:5000',
  '',
];

describe('classifySlowCalls', () => {
  it('counts script calls apart from the other commands, each with its slowest', () => {
    const calls = classifySlowCalls([
      entry(9_500, 'EVALSHA', 'abc', '2', 'k1', 'k2'),
      entry(6_200, 'fcall', 'ingest_append', '1', 'k'),
      entry(14_000, 'ZADD', 'k', '1', 'm'),
      entry(5_100, 'XADD', 'stream', '*', 'f', 'v'),
      entry(7_000, 'EVAL_RO', 'return 1', '0'),
    ]);
    expect(calls).toEqual({
      slowScriptCalls: 3,
      slowestScriptCallMs: 9.5,
      slowOtherCalls: 2,
      slowestOtherCallMs: 14,
    });
  });

  it('reports none of either for an empty slow log', () => {
    expect(classifySlowCalls([])).toEqual({
      slowScriptCalls: 0,
      slowestScriptCallMs: 0,
      slowOtherCalls: 0,
      slowestOtherCallMs: 0,
    });
  });
});
