import { UsageError, parseOptions, phaseDurations, processCountsToMeasure } from './options';

describe('parseOptions', () => {
  it('runs about three minutes by default and about twenty seconds in quick mode', () => {
    expect(parseOptions([]).durationSeconds).toBe(180);
    expect(parseOptions(['--quick'])).toMatchObject({ quick: true, durationSeconds: 20, drainEvents: 50_000 });
  });

  it('takes values after a space or an equals sign', () => {
    expect(parseOptions(['--duration-seconds', '60', '--invalid-share=0.05', '--quick'])).toMatchObject({
      quick: true,
      durationSeconds: 60,
      invalidShare: 0.05,
    });
  });

  it('compares one node with a cluster in a full run, and in quick mode only when asked', () => {
    expect(parseOptions([]).topologies).toEqual(['single', 'cluster']);
    expect(parseOptions(['--quick']).topologies).toEqual([]);
    expect(parseOptions(['--quick', '--topology', 'cluster']).topologies).toEqual(['cluster']);
    expect(parseOptions(['--topology=none']).topologies).toEqual([]);
    expect(() => parseOptions(['--topology', 'sharded'])).toThrow(
      /--topology must be one of single, cluster, both, none/,
    );
  });

  it('refuses unknown flags, missing values and values out of range', () => {
    expect(() => parseOptions(['--fast'])).toThrow(UsageError);
    expect(() => parseOptions(['--processes'])).toThrow(/--processes needs a value/);
    expect(() => parseOptions(['--processes', '--quick'])).toThrow(/--processes needs a value/);
    expect(() => parseOptions(['--processes', '1.5'])).toThrow(/an integer from 1 to 64/);
    expect(() => parseOptions(['--invalid-share', '0.9'])).toThrow(/--invalid-share/);
  });
});

describe('phase plan', () => {
  it('measures one process besides the configured count only in a full run', () => {
    expect(processCountsToMeasure(parseOptions([]))).toEqual([1, 2]);
    expect(processCountsToMeasure(parseOptions(['--quick']))).toEqual([2]);
    expect(processCountsToMeasure(parseOptions(['--processes', '1']))).toEqual([1]);
  });

  it('leaves room in the budget for the untimed phases', () => {
    const options = parseOptions([]);
    const { singleEventsMs, batchesMs, endToEndMs, topologyBatchesMs } = phaseDurations(options);
    const timedMs =
      processCountsToMeasure(options).length * (singleEventsMs + batchesMs) +
      2 * endToEndMs +
      options.topologies.length * topologyBatchesMs;
    expect(timedMs).toBeLessThan(options.durationSeconds * 1_000 * 0.8);
  });
});
