/**
 * jobql under test, as its own process, built with `buildApp` (src/app.ts) like `npm start` does,
 * plus an IPC channel for the benchmark: memory after GC (start it with --expose-gc), CPU used,
 * the poller's counters, and, with BENCH_WAREHOUSE=scripted, the scripted warehouse (end jobs at
 * one instant, its own call counts).
 *
 * Configuration is jobql's own environment (JOBQL_*). Bench-only overrides, for what the config
 * schema caps: BENCH_MAX_DISPATCHED sets JOBQL_MAX_CONCURRENT_JOBS and the per-principal running
 * cap past their limit of 64 (the scripted warehouse holds any number of running queries).
 */
process.env['UV_THREADPOOL_SIZE'] ??= '16'; // as src/main.ts does, before anything touches the pool

const { buildApp } = await import('../../src/app.ts');
const { loadConfig } = await import('../../src/config.ts');
const { createLogger } = await import('../../src/logger.ts');
const { ScriptedWarehouse } = await import('./scripted-warehouse.ts');
const { createAuthenticator } = await import('../../src/auth/authenticator.ts');
const { ready, serveRpc } = await import('../lib/rpc.ts');
const { performance } = await import('node:perf_hooks');
const { Session } = await import('node:inspector/promises');
const fs = await import('node:fs');
const v8 = await import('node:v8');

const config = loadConfig(process.env);
const dispatched = process.env['BENCH_MAX_DISPATCHED'];
if (dispatched) {
  config.limits.maxConcurrentJobs = Number(dispatched);
  config.limits.maxRunningJobsPerPrincipal = Number(dispatched);
}
const scripted =
  process.env['BENCH_WAREHOUSE'] === 'scripted'
    ? new ScriptedWarehouse({ pushOnStart: process.env['BENCH_PUSH_ON_START'] === '1' })
    : null;
const logger = createLogger(config.logLevel);
const app = await buildApp(config, logger, scripted ? { warehouse: { warehouse: scripted, close: () => scripted.close() } } : {});
await app.start();

async function collectGarbage(): Promise<void> {
  if (!globalThis.gc) throw new Error('start the server with --expose-gc');
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function needScripted(): InstanceType<typeof ScriptedWarehouse> {
  if (!scripted) throw new Error('BENCH_WAREHOUSE=scripted is not set');
  return scripted;
}

let profiler: InstanceType<typeof Session> | null = null;

serveRpc({
  /**
   * Submits `count` jobs through JobService.submit, in this process, as the open-mode principal:
   * the path of submitQuery without HTTP and GraphQL, whose garbage would leave V8's heap grown
   * (heapTotal ~185 MB after 10,000 requests, against ~60 MB this way) and hide what the
   * subscriptions measured next add to RSS.
   */
  submitMany: async (params) => {
    const { count, sql = 'select 1' } = params as { count: number; sql?: string };
    const principal = await createAuthenticator(config.auth).authenticate(null);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await app.jobs.submit({ sql }, principal)).id);
    return ids;
  },
  memory: async () => {
    await collectGarbage();
    return process.memoryUsage();
  },
  cpu: () => ({ usage: process.cpuUsage(), at: performance.now(), elu: performance.eventLoopUtilization() }),
  poller: () => ({ ...app.jobs.poller.stats, tracked: app.jobs.poller.trackedCount, listeners: app.bus.listenerCount() }),
  /** The warehouse's counts, the poller's, and the checks per running query, read at one instant. */
  warehouse: () => ({ ...needScripted().snapshot(), poller: { ...app.jobs.poller.stats }, checksPerQuery: needScripted().checksPerActiveQuery() }),
  /** Resets the warehouse's counts; returns the poller's at that instant. */
  resetCounts: () => {
    needScripted().resetCounts();
    return { ...app.jobs.poller.stats };
  },
  end: (params) => {
    const jobIds = (params as { jobIds?: string[] } | null)?.jobIds ?? null;
    return needScripted().end(jobIds);
  },
  /** A heap snapshot after GC (BENCH_HEAP_DIR in the subscription benchmark), to see what a subscription holds. */
  heapSnapshot: async (params) => {
    await collectGarbage();
    return { file: v8.writeHeapSnapshot((params as { file: string }).file) };
  },
  /** CPU profile of a phase (BENCH_PROFILE_DIR in the benchmarks): start, then stop into a file. */
  profileStart: async () => {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  },
  profileStop: async (params) => {
    const { file } = params as { file: string };
    if (!profiler) throw new Error('profileStart first');
    const { profile } = await profiler.post('Profiler.stop');
    fs.writeFileSync(file, JSON.stringify(profile));
    profiler.disconnect();
    profiler = null;
    return { file };
  },
  stop: async () => {
    await app.stop();
    process.exit(0);
  },
});
ready({ url: `${app.url}/graphql`, wsUrl: `${app.url.replace('http', 'ws')}/graphql`, pid: process.pid });
