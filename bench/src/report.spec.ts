import {
  cautions,
  evaluateTargets,
  formatReport,
  ratiosToCeilings,
  type Counts,
  type Figures,
  type IngestFigures,
} from './report';

const rate = (requestsPerSecond: number, eventsPerSecond: number, p99Ms: number): IngestFigures => ({
  requestsPerSecond,
  eventsPerSecond,
  p50Ms: p99Ms / 4,
  p99Ms,
  nodeMicrosPerEvent: 2,
});

/** Figures that meet every target against a ceiling of 400,000 XADD/s. */
function figures(
  overrides: {
    batchEventsPerSecond?: number;
    singleP99Ms?: number;
    boundaryRatio?: number;
    workerMicros?: number;
  } = {},
): Figures {
  const { batchEventsPerSecond = 220_000, singleP99Ms = 10, boundaryRatio = 1.5, workerMicros = 2 } = overrides;
  return {
    ceiling: { xaddPerSecond: 400_000, nativeRawSamplesPerSecond: 200_000 },
    batchSize: 1_000,
    ingest: {
      '2': {
        singleEvents: rate(11_000, 11_000, singleP99Ms),
        batches: rate(220, batchEventsPerSecond, 80),
        lineProtocol: rate(230, batchEventsPerSecond * 1.1, 70),
      },
    },
    drain: {
      oneWorkerEventsPerSecond: 90_000,
      twoWorkersEventsPerSecond: 100_000,
      oneWorkerNodeMicrosPerEvent: workerMicros,
      oneWorkerRedisMicrosPerEvent: 5,
    },
    sustained: {
      eventsPerSecond: 85_000,
      ratioToXaddCeiling: 85_000 / 400_000,
      workers: 2,
      atEightyPercent: { eventsPerSecond: 68_000, p50Ms: 10, p99Ms: 60 },
      cpuSecondsPerMillionEvents: { redis: 6, ingestApiProcesses: [0.1, 2, 2], workers: [1, 1] },
      redisByCommand: [
        { command: 'evalsha', microsPerEvent: 4.5, callsPerEvent: 0.011 },
        { command: 'xreadgroup', microsPerEvent: 1.25, callsPerEvent: 0.001 },
      ],
      trials: [{ eventsPerSecond: 85_000, held: true, maxBacklog: 2_000 }],
    },
    boundary: {
      eventsPerSecond: 40_000,
      bucketMs: 10_000,
      series: 5_000,
      boundaryP99Ms: 30 * boundaryRatio,
      otherP99Ms: 30,
      boundaryWindows: 4,
      otherWindows: 16,
      ratio: boundaryRatio,
      slowScriptCalls: 0,
      slowestScriptCallMs: 3,
      slowOtherCalls: 0,
      slowestOtherCallMs: 0,
    },
    client: { rawEventsPerSecond: 200_000, clientEventsPerSecond: 180_000, retried: 0 },
    endToEnd: {
      targetEventsPerSecond: batchEventsPerSecond / 2,
      eventsPerSecond: batchEventsPerSecond / 2,
      p50Ms: 20,
      p99Ms: 100,
    },
    endToEndSustained: { targetEventsPerSecond: 75_000, eventsPerSecond: 75_000, p50Ms: 10, p99Ms: 40 },
    memory: { redisBytesPerMillionEvents: 6e7, peakRssMb: { ingestApiProcess: 100, worker: 90, redis: 80 } },
  };
}

const failedTargets = (measured: Figures) =>
  evaluateTargets(measured, ratiosToCeilings(measured, 2), 2)
    .filter((target) => !target.pass)
    .map((target) => target.target);

describe('targets', () => {
  it('holds every rate to its share of the XADD ceiling measured in the same run', () => {
    const measured = figures();
    const ratios = ratiosToCeilings(measured, 2);
    expect(ratios.batchIngestToXaddCeiling).toBeCloseTo(0.55);
    expect(ratios.oneWorkerDrainToXaddCeiling).toBeCloseTo(0.225);
    expect(ratios.sustainedToXaddCeiling).toBeCloseTo(0.2125);
    expect(failedTargets(measured)).toEqual([]);
    expect(failedTargets(figures({ batchEventsPerSecond: 190_000 }))).toEqual([
      'batch ingest >= 0.5 of the XADD ceiling',
    ]);
  });

  it('fails bounded figures at or past their bounds', () => {
    expect(failedTargets(figures({ singleP99Ms: 20, boundaryRatio: 2.01, workerMicros: 3.01 }))).toEqual([
      'worker Node CPU <= 3 µs per event',
      'single-event POST p99 < 20 ms',
      'p99 in bucket-boundary windows <= 2x the others',
    ]);
  });

  it('prints every target with its verdict', () => {
    const measured = figures({ singleP99Ms: 30 });
    const ratios = ratiosToCeilings(measured, 2);
    const report = formatReport(measured, ratios, evaluateTargets(measured, ratios, 2), 2);
    expect(report.match(/ pass$/gm)).toHaveLength(11);
    expect(report.match(/ FAIL$/gm)).toHaveLength(1);
  });

  it("names the commands that took most of Redis' time at 80% of the sustained rate", () => {
    const measured = figures();
    const ratios = ratiosToCeilings(measured, 2);
    const report = formatReport(measured, ratios, evaluateTargets(measured, ratios, 2), 2);
    expect(report).toMatch(/at 80% of it: Redis time per event in evalsha \(calls per event\) +4\.50 \(0\.011\) +µs/);
    expect(report).toMatch(
      /at 80% of it: Redis time per event in xreadgroup \(calls per event\) +1\.25 \(0\.001\) +µs/,
    );
  });
});

describe('cautions', () => {
  const requests = { requests: 1_000, refusedRequests: 10, failedRequests: 0, clientCpuCores: 0.2 };
  const clean: Counts = {
    ingest: { '2': { singleEvents: requests, batches: requests, lineProtocol: requests } },
    drainedEvents: { oneWorker: 200_000, twoWorkers: 190_000 },
    endToEnd: { tracers: 500, lostTracers: 0, failedRequests: 0, backlogWhenSendingStopped: 300 },
    endToEndSustained: { tracers: 500, lostTracers: 0, failedRequests: 0, backlogWhenSendingStopped: 300 },
    sustainedAtEightyPercent: { tracers: 500, lostTracers: 0, failedRequests: 0, backlogWhenSendingStopped: 300 },
  };

  it('has nothing to say about a clean run', () => {
    expect(cautions(clean, 200_000, 1_000, 2)).toEqual([]);
  });

  it('says when latencies are lower bounds, the workers fell behind, a drain was timed short, or the simulator took the cores', () => {
    const found = cautions(
      {
        ...clean,
        drainedEvents: { oneWorker: 200_000, twoWorkers: 60_000 },
        ingest: {
          '2': {
            singleEvents: { ...requests, clientCpuCores: 0.9, failedRequests: 3 },
            batches: requests,
            lineProtocol: requests,
          },
        },
        endToEnd: { tracers: 500, lostTracers: 20, failedRequests: 0, backlogWhenSendingStopped: 90_000 },
      },
      200_000,
      1_000,
      2,
    );
    expect(found).toHaveLength(5);
    expect(found.join('\n')).toMatch(/drain twoWorkers: timed only 60000 of 200000 events/);
    expect(found.join('\n')).toMatch(/3 of 1000 requests failed/);
    expect(found.join('\n')).toMatch(/0\.90 of 2 cores/);
    expect(found.join('\n')).toMatch(/20 of 500 tracers were never seen/);
    expect(found.join('\n')).toMatch(/90000 entries behind/);
  });

  it('names the end-to-end phase a caution is about', () => {
    const found = cautions(
      { ...clean, endToEndSustained: { ...clean.endToEndSustained, failedRequests: 2 } },
      200_000,
      1_000,
      2,
    );
    expect(found).toEqual(['end to end (share of drain rate): 2 requests failed']);
  });
});
