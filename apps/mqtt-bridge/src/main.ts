import { createLogger, exitOnStartFailure, stopOnSignals } from '@redis-ingest/service-kit';
import { loadBridgeConfig } from './config';
import { start } from './service';

async function main(): Promise<void> {
  const config = loadBridgeConfig(process.env);
  const logger = createLogger('mqtt-bridge', config.logLevel);
  const service = await start(config, logger);
  stopOnSignals(logger, () => service.close());
}

main().catch(exitOnStartFailure);
