import {
  createLogger,
  exitOnStartFailure,
  isPrimaryProcess,
  runProcesses,
  serveClusterMetrics,
  stopOnSignals,
} from '@redis-ingest/service-kit';
import { loadIngestConfig } from './config';
import { start } from './server';

async function main(): Promise<void> {
  const config = loadIngestConfig(process.env);
  const logger = createLogger('ingest-api', config.logLevel);
  if (config.processes > 1 && isPrimaryProcess()) {
    serveClusterMetrics();
    return runProcesses(config.processes, logger);
  }
  const api = await start(config, logger);
  stopOnSignals(logger, () => api.stop());
}

main().catch(exitOnStartFailure);
