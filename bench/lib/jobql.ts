/** Starting the bench-only jobql server (bench/servers/jobql-server.ts) with the bench's defaults. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { envString } from './env.ts';
import { type Launched, launch } from './process.ts';

export interface JobqlInfo {
  url: string;
  wsUrl: string;
  pid: number;
}

export interface JobqlServer extends Launched<JobqlInfo> {
  dataDir: string;
}

export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface CpuSample {
  usage: { user: number; system: number };
  at: number;
  elu?: { idle: number; active: number; utilization: number };
}

/** CPU used between two samples, as a share of one core (1.0 = one core busy). */
export function cpuShare(a: CpuSample, b: CpuSample): number {
  const usedMs = (b.usage.user - a.usage.user + (b.usage.system - a.usage.system)) / 1000;
  return usedMs / (b.at - a.at);
}

/**
 * jobql in its own process. Limits that would stop a benchmark's load (per-principal sockets,
 * jobs and submissions, the queue) are raised; everything else is jobql's default unless `env`
 * says otherwise. Logs at BENCH_LOG_LEVEL (default warn: one JSON line per job transition at
 * info would measure pino's stdout as much as jobql). BENCH_SERVER_ARGS adds node flags.
 */
export async function startJobql(name: string, env: Record<string, string> = {}): Promise<JobqlServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-bench-'));
  const removeDataDir = (): void => fs.rmSync(dataDir, { recursive: true, force: true });
  const server = await launch<JobqlInfo>(name, 'servers/jobql-server.ts', {
    // BENCH_SERVER_ARGS: extra node flags for the server under test, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    execArgv: ['--expose-gc', ...envString('BENCH_SERVER_ARGS', '').split(' ').filter(Boolean)],
    env: {
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      JOBQL_DATA_DIR: dataDir,
      LOG_LEVEL: envString('BENCH_LOG_LEVEL', 'warn'),
      JOBQL_SHUTDOWN_GRACE_MS: '0',
      JOBQL_MAX_SOCKETS_PER_PRINCIPAL: '100000',
      JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: '1000000',
      JOBQL_MAX_SUBMISSIONS_PER_MINUTE: '1000000',
      JOBQL_MAX_QUEUED_JOBS: '1000000',
      ...env,
    },
  }).catch((error: unknown) => {
    removeDataDir();
    throw error;
  });
  const stop = server.stop.bind(server);
  return {
    ...server,
    dataDir,
    async stop() {
      await stop();
      removeDataDir();
    },
  };
}
