import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventFields } from '@redis-ingest/redis-schema';
import { testRedisUrl } from '@redis-ingest/test-utils';
import { startIngestApi, type IngestApiUnderTest } from './test-support/ingest-api.ts';

const cli = join(__dirname, '..', 'dist', 'cli.js');

function run(args: string[], stdin = ''): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdin!.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('redis-ingest send', () => {
  let under: IngestApiUnderTest;
  let directory: string;
  beforeEach(async () => {
    under = await startIngestApi(testRedisUrl());
    directory = mkdtempSync(join(tmpdir(), 'client-cli-'));
  });
  afterEach(async () => {
    await under.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  const streamValues = async () =>
    (await under.redis.xRange(under.keys.partitions[0]!.stream, '-', '+')).map(({ message }) => [
      eventFields(message).source,
      Number(eventFields(message).value),
    ]);

  it('sends a CSV file and reports the refused rows by line on stderr', async () => {
    const file = join(directory, 'backfill.csv');
    writeFileSync(
      file,
      [
        'metric,source,value,occurredAt',
        'temp,s-1,21.5,2026-03-01T10:00:00Z',
        'temp,s-1,hot,',
        'temp,bad source,3,',
        'temp,s-2,4,',
        '',
      ].join('\n'),
    );
    const { code, stderr } = await run(['send', file, '--url', under.url, '--quiet']);
    expect(code).toBe(1);
    const refusals = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; status?: number; error: string });
    expect(refusals).toEqual([
      { line: 3, error: 'value "hot" is not a number' },
      expect.objectContaining({ line: 4, status: 202, errors: [expect.objectContaining({ path: '/source' })] }),
    ]);
    expect(await streamValues()).toEqual([
      ['s-1', 21.5],
      ['s-2', 4],
    ]);
  });

  it('sends NDJSON from stdin, exits 0 and shows its progress', async () => {
    const lines = Array.from({ length: 1200 }, (_, n) => JSON.stringify({ source: 's', metric: 'm', value: n }));
    const { code, stderr } = await run(['send', '--url', under.url, '--batch-events', '500'], lines.join('\n'));
    expect(code).toBe(0);
    expect(stderr).toMatch(/1200 accepted, 0 refused/);
    expect(await under.redis.xLen(under.keys.partitions[0]!.stream)).toBe(1200);
  });

  it('answers a usage error with exit status 2', async () => {
    const { code, stderr } = await run(['send', '--format', 'xml', '--url', under.url]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--format must be ndjson or csv/);
  });
});
