import { isValidName } from '@redis-ingest/redis-schema';
import { createConsumerName } from './consumer-name';

describe('createConsumerName', () => {
  it('names the host and pid and differs between calls', () => {
    const first = createConsumerName('box-1.example', 42);
    expect(first).toMatch(/^box-1\.example-42-[0-9a-f]{8}$/);
    expect(createConsumerName('box-1.example', 42)).not.toBe(first);
  });

  it('stays a valid name, with room for a suffix, whatever the host name', () => {
    for (const host of ['weird host:{1}', 'ü'.repeat(300), '']) {
      const name = createConsumerName(host, 1);
      expect(isValidName(name)).toBe(true);
      expect(isValidName(`${name}-manual`)).toBe(true);
    }
  });
});
