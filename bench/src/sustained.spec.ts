import { latencyAroundBoundaries, rateHeld, searchSustainedRate } from './sustained';

describe('the sustained-rate search', () => {
  it('bisects towards the highest rate that holds', async () => {
    const tried: number[] = [];
    const { eventsPerSecond } = await searchSustainedRate({
      low: 0,
      high: 160_000,
      steps: 5,
      trial: async (rate) => {
        tried.push(rate);
        return { held: rate <= 70_000, maxBacklog: 0 };
      },
    });
    expect(tried).toEqual([80_000, 40_000, 60_000, 70_000, 75_000]);
    expect(eventsPerSecond).toBe(70_000);
  });

  it('answers 0 when no rate held', async () => {
    const { eventsPerSecond } = await searchSustainedRate({
      low: 0,
      high: 1_000,
      steps: 3,
      trial: async () => ({ held: false, maxBacklog: 9 }),
    });
    expect(eventsPerSecond).toBe(0);
  });

  it('holds a rate only with a backlog under one second of it, no failed request, and the rate taken', () => {
    expect(rateHeld(10_000, 9_999, 0, 9_600)).toBe(true);
    expect(rateHeld(10_000, 10_000, 0, 10_000)).toBe(false);
    expect(rateHeld(10_000, 10, 1, 10_000)).toBe(false);
    expect(rateHeld(10_000, 10, 0, 9_000)).toBe(false);
  });
});

describe('latency around bucket boundaries', () => {
  it('sets the worst window holding a boundary against the median of the others', () => {
    const latencies = Array.from({ length: 400 }, (_, i) => {
      const dueAtMs = 10_000 + i * 50;
      // Every 10 s boundary slows the tracers due just after it.
      return { dueAtMs, latencyMs: dueAtMs % 10_000 < 500 ? 400 : 20 + (i % 7) };
    });
    const windows = latencyAroundBoundaries(latencies, 10_000, 2_000);
    expect(windows).toEqual({ boundaryP99Ms: 400, otherP99Ms: 26, boundaryWindows: 2, otherWindows: 8 });
  });
});
