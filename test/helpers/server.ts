import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type App, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';

export interface TestServer {
  app: App;
  /** http://127.0.0.1:port/graphql */
  url: string;
  /** ws://127.0.0.1:port/graphql */
  wsUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'jobql-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A real jobql server on a free loopback port, with its own data directory. */
export async function startServer(env: Record<string, string> = {}, dataDir = tempDir()): Promise<TestServer> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JOBQL_DATA_DIR: dataDir,
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    JOBQL_SHUTDOWN_GRACE_MS: '0',
    ...env,
  });
  const app = await buildApp(config, createLogger(config.logLevel));
  await app.start();
  let stopped = false;
  return {
    app,
    url: `${app.url}/graphql`,
    wsUrl: `${app.url.replace('http', 'ws')}/graphql`,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop();
    },
  };
}
