import { createLogger, exitOnStartFailure, stopOnSignals } from '@redis-ingest/service-kit';
import { loadIngestConfig } from './config';
import { start } from './server';

async function main(): Promise<void> {
  const config = loadIngestConfig(process.env);
  const logger = createLogger('ingest-api', config.logLevel);
  const api = await start(config, logger);
  stopOnSignals(logger, () => api.stop());
}

main().catch(exitOnStartFailure);
