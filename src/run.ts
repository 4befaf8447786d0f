import { buildApp } from './app.ts';
import { DependencyUnavailable } from './cluster/shared-state.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';

/** Reads the configuration, starts the server and stops it gracefully on SIGTERM or SIGINT. */
export async function run(): Promise<void> {
  let app;
  let logger;
  try {
    const config = loadConfig();
    logger = createLogger(config.logLevel, config.logFormat);
    app = await buildApp(config, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`jobql: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    if (error instanceof DependencyUnavailable) {
      process.stderr.write(`jobql: ${error.message}; not started\n`);
      process.exit(69); // EX_UNAVAILABLE: the orchestrator starts it again later
    }
    throw error;
  }
  const started = app;
  const log = logger;
  // Listening for signals before the start, so one that arrives while the server is starting (or
  // just as it says it listens) still drains: the stop waits for the start to finish.
  let stopping = false;
  const starting = started.start();
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    starting
      .catch(() => {})
      .then(() => started.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await starting;
}
