import { groupReadArguments, parseGroupReadReply } from './stream-reads';

describe('groupReadArguments', () => {
  const read = { stream: 'events', group: 'workers', consumer: 'c-1', count: 50 };

  it('blocks only when told to', () => {
    expect(groupReadArguments({ ...read, blockMs: 2_000 })).toEqual([
      'XREADGROUP', 'GROUP', 'workers', 'c-1', 'COUNT', '50', 'BLOCK', '2000', 'STREAMS', 'events', '>',
    ]);
    expect(groupReadArguments(read)).toEqual(['XREADGROUP', 'GROUP', 'workers', 'c-1', 'COUNT', '50', 'STREAMS', 'events', '>']);
  });
});

describe('parseGroupReadReply', () => {
  it('reads no entries from a timed-out read', () => {
    expect(parseGroupReadReply(null)).toEqual([]);
  });

  it('turns field lists into records, keeping odd field names as plain fields', () => {
    const reply = [['events', [['1-0', ['source', 's', 'value', '1']], ['2-0', ['__proto__', 'x']], ['3-0', null]]]];
    const entries = parseGroupReadReply(reply);
    expect(entries.map(({ id }) => id)).toEqual(['1-0', '2-0', '3-0']);
    expect(entries[0]!.fields).toEqual({ source: 's', value: '1' });
    expect(Object.keys(entries[1]!.fields)).toEqual(['__proto__']);
    expect(JSON.stringify(entries[1]!.fields)).toBe('{"__proto__":"x"}');
    expect(entries[2]!.fields).toEqual({});
  });
});
