import {
  compareStreamIds,
  formatEntryRef,
  isStreamIdInRange,
  mergeNewestFirst,
  nextStreamId,
  parseEntryRef,
} from './stream-ids';

describe('stream ids across partitions', () => {
  it('orders ids by milliseconds, then sequence, beyond 2^53 too', () => {
    const ids = [
      '10-2',
      '9-9',
      '10-10',
      '18446744073709551615-0',
      '10-0',
      '9007199254740993-0',
      '9007199254740992-18446744073709551615',
    ];
    expect([...ids].sort(compareStreamIds)).toEqual([
      '9-9',
      '10-0',
      '10-2',
      '10-10',
      '9007199254740992-18446744073709551615',
      '9007199254740993-0',
      '18446744073709551615-0',
    ]);
    expect(compareStreamIds('7-1', '7-1')).toBe(0);
  });

  it('takes as a stream id only what Redis takes: both numbers at most 2^64 - 1', () => {
    expect(isStreamIdInRange('18446744073709551615-18446744073709551615')).toBe(true);
    expect(isStreamIdInRange('18446744073709551616-0')).toBe(false);
    expect(isStreamIdInRange('0-18446744073709551616')).toBe(false);
    expect(isStreamIdInRange('99999999999999999999-0')).toBe(false);
  });

  it('steps to the next id, carrying into the milliseconds after the last sequence', () => {
    expect(nextStreamId('5-0')).toBe('5-1');
    expect(nextStreamId('5-18446744073709551615')).toBe('6-0');
  });

  it('merges newest first, equal ids in partition order, keeping as many as asked', () => {
    const lists = [[{ id: '9-0' }, { id: '3-0' }], [], [{ id: '9-0' }, { id: '8-5' }, { id: '1-0' }], [{ id: '10-0' }]];
    expect(mergeNewestFirst(lists, 4)).toEqual([
      { partition: 3, entry: { id: '10-0' } },
      { partition: 0, entry: { id: '9-0' } },
      { partition: 2, entry: { id: '9-0' } },
      { partition: 2, entry: { id: '8-5' } },
    ]);
    expect(mergeNewestFirst(lists, 100)).toHaveLength(6);
  });

  it('names an entry by its bare id with one partition and with its partition otherwise, and reads both back', () => {
    expect(formatEntryRef({ partition: 0, id: '12-3' }, 1)).toBe('12-3');
    expect(formatEntryRef({ partition: 2, id: '12-3' }, 3)).toBe('2:12-3');
    expect(parseEntryRef('2:12-3')).toEqual({ partition: 2, id: '12-3' });
    expect(parseEntryRef('12-3')).toEqual({ partition: undefined, id: '12-3' });
  });
});
