import type { Logger } from './logger';

/**
 * Wires SIGTERM and SIGINT to a service's stop function and exits when it has finished: 0 after a
 * clean stop, 1 when stopping failed. A second signal exits at once.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** For main.ts: a configuration or start-up failure ends the process with the reason on stderr. */
export function exitOnStartFailure(error: unknown): never {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

/**
 * The V8 settings every service is started with (the image's NODE_OPTIONS, scripts/start.js, the
 * bench). A worker or ingest-api allocates a short-lived object per event; with V8's default 16 MiB
 * semi-spaces the scavenger runs so often that collection took about a sixth of a worker's CPU, and
 * semi-spaces of 32 MiB cut the worker's CPU per event by about 15 % in the bench's drain. V8 grows
 * a semi-space only under allocation pressure, so a quiet service stays small.
 */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=32';
