import { buildApp } from './app.ts';
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
    throw error;
  }
  await app.start();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
