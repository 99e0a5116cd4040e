import { createLogger, exitOnStartFailure, stopOnSignals } from '@redis-ingest/service-kit';
import { loadWorkerConfig } from './config';
import { start } from './service';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const logger = createLogger('worker', config.logLevel);
  const service = await start(config, logger);
  stopOnSignals(logger, () => service.close());
}

main().catch(exitOnStartFailure);
