import { parseGroupsReply } from './queue-stats';

describe('parseGroupsReply', () => {
  it('reads each group from its flat field list', () => {
    const reply = [
      ['name', 'workers', 'consumers', 2, 'pending', 3, 'last-delivered-id', '5-0', 'entries-read', 4, 'lag', 1],
      ['name', 'audit', 'consumers', 0, 'pending', 0, 'last-delivered-id', '2-0', 'entries-read', null, 'lag', null],
    ];
    expect(parseGroupsReply(reply)).toEqual([
      { name: 'workers', consumers: 2, pending: 3, lastDeliveredId: '5-0', lag: 1 },
      { name: 'audit', consumers: 0, pending: 0, lastDeliveredId: '2-0', lag: null },
    ]);
  });

  it('reports an unknown lag for servers before Redis 7, which do not send it', () => {
    const [group] = parseGroupsReply([['name', 'g', 'consumers', 1, 'pending', 0, 'last-delivered-id', '0-0']]);
    expect(group?.lag).toBeNull();
  });
});
