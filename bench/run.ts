/**
 * `npm run bench`: every benchmark in one invocation, each against a baseline measured in the
 * same run, each with its load generator in a process of its own. Prints each table as it goes,
 * then a summary of the verdicts.
 *
 *   npm run bench                                  all of them (~10 minutes on 2 cores)
 *   BENCH_ONLY=submit,subscriptions npm run bench  a subset, by name
 *
 * Names: submit (1. submit → result overhead), rps (2. job(id) req/s), subscriptions
 * (3. memory, CPU at rest, end → event latency, burst), polling (4. status calls per tick),
 * results (5. rows per second), console (7. the console's first load, in Chromium), cluster (6. status calls with 1, 2, 3 instances; needs PostgreSQL
 * and Redis), progress (8. CPU and events/s of PROGRESS events, on vs off), isolation (9. a new principal's first query and memory per open database), history (10. submission cost with 0 to 1,000,000 stored jobs), detection (11. Snowflake query end → event with 1,000 jobs running, monitoring vs status from query history). Each file's header lists its own knobs.
 */
import os from 'node:os';
import fs from 'node:fs';
import type { Verdict } from './lib/table.ts';
import { printTable } from './lib/table.ts';

interface Bench {
  name: string;
  title: string;
  load: () => Promise<{ run: () => Promise<Verdict[]> }>;
}

const BENCHES: Bench[] = [
  { name: 'submit', title: 'submit → result overhead', load: () => import('./submit-overhead.ts') },
  { name: 'rps', title: 'job(id) requests per second', load: () => import('./job-rps.ts') },
  { name: 'subscriptions', title: 'jobStatus subscriptions', load: () => import('./subscriptions.ts') },
  { name: 'polling', title: 'status calls per polling tick', load: () => import('./polling.ts') },
  { name: 'results', title: 'rows per second', load: () => import('./results.ts') },
  { name: 'console', title: "the console's first load (needs Debian's chromium)", load: () => import('./console-load.ts') },
  { name: 'progress', title: 'PROGRESS events: CPU and events/s, on vs off', load: () => import('./progress.ts') },
  { name: 'isolation', title: 'SQL isolation: a new principal\'s first query, memory per open database', load: () => import('./isolation.ts') },
  { name: 'history', title: "submission cost vs a principal's history (0 to 1,000,000 stored jobs)", load: () => import('./history.ts') },
  { name: 'detection', title: 'Snowflake: query end → event with 1,000 jobs running, within the status-call budget', load: () => import('./snowflake-detection.ts') },
  { name: 'cluster', title: 'status calls vs instances (needs PostgreSQL and Redis)', load: () => import('./cluster-polling.ts') },
];

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? os.cpus()[0]?.model ?? '?';
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  return `${os.availableParallelism()} cores (${cpu}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, node ${process.version}, ${os.type()} ${os.release()}, load average ${load}`;
}

const only = (process.env['BENCH_ONLY'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only.filter((name) => !BENCHES.some((b) => b.name === name));
if (unknown.length) {
  console.error(`BENCH_ONLY: unknown ${unknown.join(', ')}; names are ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = only.length ? BENCHES.filter((b) => only.includes(b.name)) : BENCHES;

console.log(`# jobql benchmarks, ${new Date().toISOString()}`);
console.log(`machine: ${machine()}`);
console.log(`running: ${selected.map((b) => b.name).join(', ')}`);

const started = performance.now();
const verdicts: Verdict[] = [];
const failures: string[] = [];
for (const bench of selected) {
  const t0 = performance.now();
  try {
    const { run } = await bench.load();
    verdicts.push(...(await run()));
  } catch (error) {
    failures.push(bench.name);
    console.error(`\n${bench.name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  console.log(`\n(${bench.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

printTable(
  `Summary (${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}):`,
  ['benchmark', 'target', 'measured', 'verdict'],
  verdicts.map((v) => [v.bench, v.target, v.measured, v.met === null ? 'info' : v.met ? 'met' : 'MISSED']),
  ['l', 'l', 'l', 'l'],
);
if (failures.length) {
  console.error(`\nfailed to run: ${failures.join(', ')}`);
  process.exitCode = 1;
}
