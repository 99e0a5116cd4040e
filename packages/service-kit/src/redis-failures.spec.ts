import { ErrorReply, TimeoutError } from '@redis/client';
import { createLogger } from './logger';
import { ServiceMetrics } from './metrics';
import { RedisFailures, redisFailureAnswer } from './redis-failures';

function recordingFailures(intervalMs: number) {
  const lines: { level: string; fields: Record<string, unknown> }[] = [];
  const logger = createLogger('failures-test', 'silent');
  for (const level of ['warn', 'error'] as const) {
    jest
      .spyOn(logger, level)
      .mockImplementation(((fields: Record<string, unknown>) => void lines.push({ level, fields })) as never);
  }
  const metrics = new ServiceMetrics();
  return { failures: new RedisFailures(metrics, logger, intervalMs), lines, metrics };
}

describe('RedisFailures', () => {
  it('counts every failure by operation and kind, but logs a burst of one kind once, then with how many it stands for', async () => {
    const { failures, lines, metrics } = recordingFailures(200);
    const oom = new ErrorReply("OOM command not allowed when used memory > 'maxmemory'.");
    for (let i = 0; i < 5; i++) expect(failures.record(oom, 'ingest')).toBe('oom');
    failures.record(new TimeoutError(), 'ingest');
    expect(lines.map(({ fields }) => fields.redisError)).toEqual(['oom', 'timeout']);
    await new Promise((resolve) => setTimeout(resolve, 250));
    failures.record(oom, 'ingest');
    expect(lines.map(({ fields }) => [fields.redisError, fields.alsoFailedSinceLastLine])).toEqual([
      ['oom', 0],
      ['timeout', 0],
      ['oom', 4],
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('redis_errors_total{operation="ingest",kind="oom"} 6');
    expect(text).toContain('redis_errors_total{operation="ingest",kind="timeout"} 1');
  });

  it("leaves faults to the caller to log, and ignores errors that are not Redis's", () => {
    const { failures, lines } = recordingFailures(10_000);
    expect(
      failures.record(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'), 'query'),
    ).toBe('wrongtype');
    expect(failures.record(new Error('a bug'), 'query')).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('answers 503 with Retry-After and the kind for what a retry can get past, nothing for faults', () => {
    const answer = redisFailureAnswer(new ErrorReply('LOADING Redis is loading the dataset in memory'));
    expect(answer).toMatchObject({ status: 503, headers: { 'Retry-After': '5' }, details: { redisError: 'loading' } });
    expect(redisFailureAnswer(new ErrorReply('ERR syntax error'))).toBeUndefined();
  });
});
