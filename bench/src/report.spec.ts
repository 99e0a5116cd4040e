import { cautions, evaluateTargets, formatReport, ratiosToCeilings, type Counts, type Figures, type RateFigures } from './report';

const rate = (requestsPerSecond: number, eventsPerSecond: number, p99Ms: number): RateFigures => ({
  requestsPerSecond,
  eventsPerSecond,
  p50Ms: p99Ms / 4,
  p99Ms,
});

function figures(batchEventsPerSecond: number, singleP99Ms: number, endToEndP99Ms: number): Figures {
  return {
    ceiling: { xaddPerSecond: 400_000, nativeRawSamplesPerSecond: 200_000 },
    ingest: { '2': { singleEvents: rate(9_000, 9_000, singleP99Ms), batches: rate(150, batchEventsPerSecond, 80) } },
    drain: { oneWorkerEventsPerSecond: 120_000, twoWorkersEventsPerSecond: 180_000 },
    endToEnd: { targetEventsPerSecond: batchEventsPerSecond / 2, eventsPerSecond: batchEventsPerSecond / 2, p50Ms: 20, p99Ms: endToEndP99Ms },
    endToEndSustained: { targetEventsPerSecond: 75_000, eventsPerSecond: 75_000, p50Ms: 10, p99Ms: 40 },
    memory: { redisBytesPerMillionEvents: 6e7, peakRssMb: { ingestApiProcess: 100, worker: 90, redis: 80 } },
  };
}

describe('targets', () => {
  it('holds batch ingest to 100,000 events/s and to 0.35 of the XADD ceiling measured in the same run', () => {
    const measured = figures(150_000, 10, 100);
    const ratios = ratiosToCeilings(measured, 2);
    expect(ratios.batchIngestToXaddCeiling).toBeCloseTo(0.375);
    expect(ratios.oneWorkerDrainToNativeRawWrite).toBeCloseTo(0.6);
    expect(evaluateTargets(measured, ratios, 2).every((target) => target.pass)).toBe(true);

    const slow = figures(120_000, 10, 100);
    const failed = evaluateTargets(slow, ratiosToCeilings(slow, 2), 2).filter((target) => !target.pass);
    expect(failed.map((target) => target.target)).toEqual(['batch ingest >= 0.35 of the XADD ceiling']);
  });

  it('fails latency targets at their bounds', () => {
    const atBounds = figures(150_000, 20, 250);
    const failed = evaluateTargets(atBounds, ratiosToCeilings(atBounds, 2), 2).filter((target) => !target.pass);
    expect(failed.map((target) => target.target)).toEqual([
      'single-event POST p99 < 20 ms',
      'end-to-end p99 < 250 ms at half peak ingest',
    ]);
  });

  it('prints every target with its verdict', () => {
    const measured = figures(120_000, 10, 300);
    const ratios = ratiosToCeilings(measured, 2);
    const report = formatReport(measured, ratios, evaluateTargets(measured, ratios, 2), 2);
    expect(report.match(/ pass$/gm)).toHaveLength(4);
    expect(report.match(/ FAIL$/gm)).toHaveLength(2);
  });
});

describe('cautions', () => {
  const requests = { requests: 1_000, refusedRequests: 10, failedRequests: 0, clientCpuCores: 0.2 };
  const clean: Counts = {
    ingest: { '2': { singleEvents: requests, batches: requests } },
    drainedEvents: { oneWorker: 200_000, twoWorkers: 190_000 },
    endToEnd: { tracers: 500, lostTracers: 0, failedRequests: 0, backlogWhenSendingStopped: 300 },
    endToEndSustained: { tracers: 500, lostTracers: 0, failedRequests: 0, backlogWhenSendingStopped: 300 },
  };

  it('has nothing to say about a clean run', () => {
    expect(cautions(clean, 200_000, 1_000, 2)).toEqual([]);
  });

  it('says when latencies are lower bounds, the workers fell behind, or the simulator took the cores', () => {
    const found = cautions(
      {
        ...clean,
        ingest: { '2': { singleEvents: { ...requests, clientCpuCores: 0.9, failedRequests: 3 }, batches: requests } },
        endToEnd: { tracers: 500, lostTracers: 20, failedRequests: 0, backlogWhenSendingStopped: 90_000 },
      },
      200_000,
      1_000,
      2,
    );
    expect(found).toHaveLength(4);
    expect(found.join('\n')).toMatch(/3 of 1000 requests failed/);
    expect(found.join('\n')).toMatch(/0\.90 of 2 cores/);
    expect(found.join('\n')).toMatch(/20 of 500 tracers were never seen/);
    expect(found.join('\n')).toMatch(/90000 entries behind/);
  });

  it('names the end-to-end phase a caution is about', () => {
    const found = cautions({ ...clean, endToEndSustained: { ...clean.endToEndSustained, failedRequests: 2 } }, 200_000, 1_000, 2);
    expect(found).toEqual(['end to end (share of sustained rate): 2 requests failed']);
  });
});
