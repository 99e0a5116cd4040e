import { commandCostsPerEvent, parseCommandStats } from './command-stats';

const info = (lines: string[]) => ['# Commandstats', ...lines, ''].join('\r\n');

describe('parseCommandStats', () => {
  it('reads calls and microseconds per command, subcommands included', () => {
    const stats = parseCommandStats(
      info([
        'cmdstat_evalsha:calls=5960,usec=5239807,usec_per_call=879.16,rejected_calls=0,failed_calls=0',
        'cmdstat_xinfo|groups:calls=3,usec=26,usec_per_call=8.67,rejected_calls=0,failed_calls=0',
      ]),
    );
    expect(stats).toEqual(
      new Map([
        ['evalsha', { calls: 5_960, micros: 5_239_807 }],
        ['xinfo|groups', { calls: 3, micros: 26 }],
      ]),
    );
  });

  it('answers no commands for a server that has run none', () => {
    expect(parseCommandStats(info([])).size).toBe(0);
  });
});

describe('commandCostsPerEvent', () => {
  const before = new Map([
    ['evalsha', { calls: 10, micros: 1_000 }],
    ['xack', { calls: 5, micros: 50 }],
    ['ping', { calls: 1, micros: 2 }],
  ]);
  const after = new Map([
    ['evalsha', { calls: 30, micros: 9_000 }],
    ['xack', { calls: 7, micros: 250 }],
    ['ping', { calls: 1, micros: 2 }],
    ['xreadgroup', { calls: 2, micros: 1_000 }],
  ]);

  it('costs each command that ran between the readings per event, costliest first', () => {
    expect(commandCostsPerEvent(before, after, 1_000, 5)).toEqual([
      { command: 'evalsha', microsPerEvent: 8, callsPerEvent: 0.02 },
      { command: 'xreadgroup', microsPerEvent: 1, callsPerEvent: 0.002 },
      { command: 'xack', microsPerEvent: 0.2, callsPerEvent: 0.002 },
    ]);
  });

  it('keeps only the costliest', () => {
    expect(commandCostsPerEvent(before, after, 1_000, 1).map(({ command }) => command)).toEqual(['evalsha']);
  });
});
