import { testRedisUrl } from '@redis-ingest/test-utils';
import {
  eventIdsInStream,
  startIngestApi,
  type IngestApiUnderTest,
} from '../packages/client/src/test-support/ingest-api';
import { runClientPhase } from '../bench/src/client-phase';

describe('the client phase', () => {
  let under: IngestApiUnderTest;
  beforeAll(async () => (under = await startIngestApi(testRedisUrl())));
  afterAll(() => under?.stop());

  it('sends the same readings raw and through the client, and reports both rates', async () => {
    const result = await runClientPhase({ origin: under.url, events: 450, batchSize: 100, connections: 2, devices: 7 });
    expect(result.raw).toMatchObject({ requests: 5, failedRequests: 0 });
    expect(result.client).toMatchObject({ requests: 5, failedRequests: 0, retried: 0 });
    expect(result.raw.eventsPerSecond).toBeGreaterThan(0);
    expect(result.ratio).toBeCloseTo(result.client.eventsPerSecond / result.raw.eventsPerSecond);
    const ids = await eventIdsInStream(under);
    expect(ids.filter((id) => id.includes('-raw-'))).toHaveLength(450);
    expect(ids.filter((id) => id.includes('-client-'))).toHaveLength(450);
  });
});
