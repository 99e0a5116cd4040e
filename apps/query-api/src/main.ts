import { createLogger, exitOnStartFailure, stopOnSignals } from '@redis-ingest/service-kit';
import { loadQueryConfig } from './config';
import { start } from './server';

async function main(): Promise<void> {
  const config = loadQueryConfig(process.env);
  const logger = createLogger('query-api', config.logLevel);
  const api = await start(config, logger);
  stopOnSignals(logger, () => api.stop());
}

main().catch(exitOnStartFailure);
