/**
 * Benchmark 6: warehouse status calls do not grow with the number of instances.
 *
 * For 1, 2 and 3 jobql instances (separate processes, on the machine's PostgreSQL and Redis, as
 * test/helpers/cluster.ts starts them) sharing one Snowflake (the wire-level double), J jobs of a
 * fixed duration are submitted round-robin through the instances, with one subscriber per job on
 * another instance, and run to their end. The double counts every monitoring (status) request
 * per query and per Snowflake session (one per instance). The baseline is the single instance in
 * the same run: calls per job with N instances ÷ calls per job with one. Target: 1.0 (no growth),
 * and every query polled by exactly one instance.
 *
 * Knobs: BENCH_CLUSTER_SIZES (1,2,3), BENCH_CLUSTER_JOBS (30), BENCH_CLUSTER_DURATION_MS (3000).
 * Needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379), like npm run test:scale.
 */
import { collect, submit, waitForEnd, wsClient } from '../test/helpers/client.ts';
import { startCluster } from '../test/helpers/cluster.ts';
import { envList, envNumber } from './lib/env.ts';
import { fmt } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

const SIZES = envList('BENCH_CLUSTER_SIZES', [1, 2, 3]);
const JOBS = envNumber('BENCH_CLUSTER_JOBS', 30);
const DURATION_MS = envNumber('BENCH_CLUSTER_DURATION_MS', 3000);

interface Row {
  instances: number;
  calls: number;
  perJob: number;
  maxPollersPerQuery: number;
  sessionsPolling: number;
}

async function measure(instances: number): Promise<Row> {
  const cluster = await startCluster({
    instances,
    // The connectors' backoff (the default) and a generous budget: calls are the jobs' own.
    env: { JOBQL_POLL_BACKOFF_MS: '500,500,1000,1500,2000,4000,5000', JOBQL_MAX_CONCURRENT_JOBS: '64' },
  });
  try {
    const urls = cluster.instances.map((i) => i.url);
    const wsUrls = cluster.instances.map((i) => i.wsUrl);
    const clients = wsUrls.map((url) => wsClient(url));
    const jobs = await Promise.all(
      Array.from({ length: JOBS }, (_, i) => submit(urls[i % instances]!, `select ${i} /* sleep ${DURATION_MS} */`)),
    );
    const heard = jobs.map((job, i) =>
      collect(clients[(i + 1) % instances]!, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', { id: job.id }),
    );
    const ended = await Promise.all(jobs.map((job) => waitForEnd(urls[0]!, job.id, 120_000)));
    await Promise.all(heard);
    for (const client of clients) await client.dispose();
    if (!ended.every((job) => job.status === 'SUCCESS')) throw new Error('a job did not succeed');
    const queryIds = new Set(ended.map((job) => job.queryId as string));
    const pollers = new Map<string, Set<number>>();
    for (const call of cluster.double.monitoringLog) {
      if (!queryIds.has(call.queryId)) continue;
      const set = pollers.get(call.queryId) ?? new Set<number>();
      set.add(call.sessionId);
      pollers.set(call.queryId, set);
    }
    const calls = [...queryIds].reduce((n, id) => n + (cluster.double.monitoringCalls.get(id) ?? 0), 0);
    return {
      instances,
      calls,
      perJob: calls / JOBS,
      maxPollersPerQuery: Math.max(...[...pollers.values()].map((s) => s.size)),
      sessionsPolling: new Set([...pollers.values()].flatMap((s) => [...s])).size,
    };
  } finally {
    await cluster.stop();
  }
}

export async function run(): Promise<Verdict[]> {
  const rows: Row[] = [];
  for (const size of SIZES) rows.push(await measure(size));
  const base = rows[0]!;
  printTable(
    `Warehouse status calls vs instances: ${JOBS} jobs of ${DURATION_MS} ms, one subscriber each on another instance`,
    ['instances', 'status calls', 'calls per job', `ratio to ${base.instances} instance(s)`, 'instances that polled', 'max instances per query'],
    rows.map((r) => [r.instances, r.calls, fmt(r.perJob, 2), fmt(r.perJob / base.perJob, 2), r.sessionsPolling, r.maxPollersPerQuery]),
  );
  const worst = Math.max(...rows.map((r) => r.perJob / base.perJob));
  const verdicts: Verdict[] = [
    {
      bench: 'cluster',
      target: 'calls per job independent of instances (ratio ≤ 1.1), one instance per query',
      measured: `worst ratio ${fmt(worst, 2)}, max ${Math.max(...rows.map((r) => r.maxPollersPerQuery))} instance(s) per query`,
      met: worst <= 1.1 && rows.every((r) => r.maxPollersPerQuery === 1),
    },
  ];
  verdicts.forEach(printVerdict);
  return verdicts;
}

if (import.meta.main) await run();
