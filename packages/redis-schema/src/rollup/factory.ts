import type { PipelineConfig } from '../config';
import { createKeys } from '../keys';
import type { RedisClient } from '../redis-client';
import { NativeRollupStore } from './native/native-store';
import type { RollupBackend, RollupStore } from './store';
import { hasTimeSeriesModule } from './timeseries/module-probe';
import { TimeSeriesRollupStore } from './timeseries/timeseries-store';

export { hasTimeSeriesModule };

export async function chooseBackend(
  client: RedisClient,
  choice: PipelineConfig['rollupBackend'],
): Promise<RollupBackend> {
  if (choice !== 'auto') return choice;
  return (await hasTimeSeriesModule(client)) ? 'timeseries' : 'native';
}

/** Picks the backend (probing the server unless configured), builds it and bootstraps it. */
export async function createRollupStore(client: RedisClient, config: PipelineConfig): Promise<RollupStore> {
  const backend = await chooseBackend(client, config.rollupBackend);
  const options = { keys: createKeys(config.keys), rawRetentionMs: config.rawRetentionMs, tiers: config.rollupTiers };
  const store =
    backend === 'native' ? new NativeRollupStore(client, options) : new TimeSeriesRollupStore(client, options);
  await store.bootstrap();
  return store;
}
