import { createClient } from '@redis/client';
import { isolatedEnv, testRedisUrl } from '@redis-ingest/test-utils';
import { runKeysCli } from './keys-cli';

describe('keys-cli', () => {
  const env = isolatedEnv(testRedisUrl());
  const redis = createClient({ url: testRedisUrl() });
  beforeAll(() => redis.connect());
  afterAll(() => redis.destroy());

  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runKeysCli(argv, env, { out: (line) => out.push(line), err: (line) => err.push(line) });
    return { code, out, err };
  }

  it('adds a key and prints its token once, lists keys without secrets, and revokes', async () => {
    const added = await run('add', '--id', 'dev-1', '--sources', 'a,b');
    expect(added.code).toBe(0);
    const [token] = added.out;
    expect(token).toMatch(/^dev-1\.[A-Za-z0-9_-]{43}$/);
    expect((await run('add', '--id', 'dev-2')).code).toBe(0);

    const listed = await run('list');
    expect(listed.out).toEqual([
      expect.stringMatching(/^dev-1\ta,b\t\d{4}-/),
      expect.stringMatching(/^dev-2\t\*\t\d{4}-/),
    ]);
    const stored = Object.values(await redis.hGetAll(env.INGEST_AUTH_KEY!)).join(' ');
    const secret = token!.split('.')[1]!;
    expect(stored).not.toContain(secret);
    expect(listed.out.join(' ')).not.toMatch(/secretSha256|[A-Za-z0-9_-]{43}/);

    expect((await run('add', '--id', 'dev-1')).err).toEqual([expect.stringMatching(/already exists/)]);
    expect((await run('revoke', '--id', 'dev-1')).code).toBe(0);
    expect(await run('revoke', '--id', 'dev-1')).toMatchObject({ code: 1, err: ['no device key dev-1'] });
    expect((await run('list')).out).toHaveLength(1);
  });

  it.each([[[]], [['add']], [['remove', '--id', 'x']], [['list', 'extra']], [['add', '--id', 'x', '--bogus']]])(
    'prints usage for %j',
    async (argv) => {
      const { code, err } = await run(...argv);
      expect(code).toBe(2);
      expect(err.join('\n')).toMatch(/Usage: keys-cli/);
    },
  );

  it('refuses bad sources', async () => {
    expect(await run('add', '--id', 'dev-9', '--sources', 'a:b')).toMatchObject({
      code: 1,
      err: [expect.stringMatching(/source/)],
    });
  });
});
