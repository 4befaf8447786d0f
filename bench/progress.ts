/**
 * Benchmark 8: the cost of PROGRESS events. 10,000 jobStatus subscriptions on a few long DuckDB
 * scans that report progress, with PROGRESS events on (JOBQL_PROGRESS_EVENTS_PER_SECOND=4, the
 * default) against the same run with them off (=0), in the same invocation.
 *
 * Processes: jobql (bench/servers/jobql-server.ts, the embedded DuckDB warehouse), one per side,
 * and the subscribers (bench/clients/ws-progress.ts: every socket in one process, counting the
 * messages it receives by kind and by job).
 *
 * Each side: a fresh jobql; `create table t` of BENCH_PROGRESS_ROWS rows; BENCH_PROGRESS_JOBS
 * scans (a cross join over t with an md5 filter, long enough to outlast the window) RUNNING with
 * non-null progress (read with job(id) on the "on" side); BENCH_PROGRESS_SOCKETS sockets × BENCH_PROGRESS_PER_SOCKET
 * subscriptions spread over the jobs; then, over BENCH_PROGRESS_SECONDS, the server's CPU (the
 * API process: every thread, GC included; and its main thread alone, from
 * /proc/<pid>/task/<pid>/stat, where the events are built and sent) and the messages the clients
 * received; then the jobs are cancelled. DuckDB executes in a process of its own (the embedded
 * warehouse's worker), not counted here: its scans cost the same on both sides, and what differs
 * is the API process's share, which is what the PROGRESS events cost.
 *
 * Knobs: BENCH_PROGRESS_SOCKETS (100), BENCH_PROGRESS_PER_SOCKET (100), BENCH_PROGRESS_JOBS (4),
 * BENCH_PROGRESS_SECONDS (10), BENCH_PROGRESS_ROWS (20,000,000), BENCH_PROGRESS_REPEAT (2: the
 * cross join's factor; each scan must run longer than subscribing plus the window).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { envNumber } from './lib/env.ts';
import { gql } from './lib/gql.ts';
import { type CpuSample, startJobql } from './lib/jobql.ts';
import { type Launched, launch } from './lib/process.ts';
import { fmt, sleep } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

/** The throttle allows 4 per job and second, in bursts of 2: above this it is broken. */
const MAX_PROGRESS_PER_JOB_PER_SECOND = 4.5;

interface Sizes {
  sockets: number;
  perSocket: number;
  jobs: number;
  seconds: number;
  rows: number;
  repeat: number;
}

interface Counts {
  ms: number;
  byKind: Record<string, number>;
  byJob: Record<string, Record<string, number>>;
  bytes: number;
  errors: number;
  lastError: string;
  sample: string;
}

interface Side {
  label: string;
  perSecond: number;
  /** Whole server process, share of one core. */
  cpu: number;
  /** The server's main thread, share of one core (null without /proc). */
  mainCpu: number | null;
  /** Event-loop utilisation of the server over the window. */
  elu: number | null;
  counts: Counts;
  /** PROGRESS events per job and second, per distinct subscription (the highest job). */
  maxProgressPerJobPerSecond: number;
  connectMs: number;
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of one thread of `pid`, in ms, or null where /proc is not there. */
function threadCpuMs(pid: number, tid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

const SUBMIT = 'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id status } } }';
const READ = 'query($id: ID!) { job(id: $id) { id status progress { percentage rowsProcessed totalRowsToProcess } } }';

interface JobRead {
  job: { id: string; status: string; progress: { percentage: number | null } | null };
}

async function waitDone(url: string, id: string, timeoutMs: number): Promise<JobRead['job']> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const { job } = await gql<JobRead>(url, READ, { id });
    if (!['QUEUED', 'RUNNING'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function runSide(label: string, progressPerSecond: number, sizes: Sizes): Promise<Side> {
  const { sockets, perSocket, jobs, seconds, rows, repeat } = sizes;
  const server = await startJobql(`jobql-progress-${label}`, {
    JOBQL_PROGRESS_EVENTS_PER_SECOND: String(progressPerSecond),
    JOBQL_MAX_CONCURRENT_JOBS: String(jobs),
    JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: String(jobs),
    JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET: String(Math.max(50, perSocket)),
    JOBQL_DUCKDB_KILL_AFTER_MS: '1000',
  });
  let client: Launched<{ pid: number }> | null = null;
  const url = server.info.url;
  const ids: string[] = [];
  try {
    const create = await gql<{ submitQuery: { job: { id: string } } }>(url, SUBMIT, {
      input: { sql: `create table t as select range::bigint as x from range(${rows})` },
    });
    const created = await waitDone(url, create.submitQuery.job.id, 120_000);
    if (created.status !== 'SUCCESS') throw new Error(`create table ended ${created.status}`);

    // The repeat is a subquery over t, not range(): DuckDB reports no progress (-1) for a query with a range() source.
    const sql = `select count(*), sum(a.x) from t a, (select x from t limit ${repeat}) b where md5((a.x + b.x)::varchar) like 'a%'`;
    for (let i = 0; i < jobs; i++) {
      const data = await gql<{ submitQuery: { job: { id: string } } }>(url, SUBMIT, { input: { sql, tag: `progress-${i}` } });
      ids.push(data.submitQuery.job.id);
    }
    // Every scan RUNNING (and, with progress on, reporting it) before the subscribers arrive.
    for (const deadline = Date.now() + 30_000; ; ) {
      const read = await Promise.all(ids.map((id) => gql<JobRead>(url, READ, { id })));
      const ended = read.find((r) => !['QUEUED', 'RUNNING'].includes(r.job.status));
      if (ended) throw new Error(`scan ${ended.job.id} ended ${ended.job.status} before the window`);
      const running = read.every((r) => r.job.status === 'RUNNING');
      const reporting = read.every((r) => r.job.progress?.percentage !== null && r.job.progress?.percentage !== undefined);
      if (running && (progressPerSecond === 0 || reporting)) {
        console.log(
          `  ${label}: ${jobs} scans RUNNING, progress ${read.map((r) => (r.job.progress?.percentage == null ? 'null' : `${fmt(r.job.progress.percentage, 1)} %`)).join(', ')}`,
        );
        break;
      }
      if (Date.now() > deadline) throw new Error(`scans not RUNNING with progress after 30 s: ${JSON.stringify(read)}`);
      await sleep(200);
    }

    client = await launch<{ pid: number }>(`ws-progress-${label}`, 'clients/ws-progress.ts');
    const connected = await client.call<{ ms: number; errors: number; lastError: string }>(
      'connect',
      { url: server.info.wsUrl, sockets, perSocket, jobIds: ids },
      120_000,
    );
    console.log(`  ${label}: ${sockets} sockets × ${perSocket} subscriptions in ${fmt(connected.ms, 0)} ms (${connected.errors} errors${connected.errors ? `, last: ${connected.lastError}` : ''})`);
    await sleep(1000);

    await client.call('reset');
    const a = await server.call<CpuSample>('cpu');
    const mainA = threadCpuMs(server.pid, server.pid);
    await sleep(seconds * 1000);
    const b = await server.call<CpuSample>('cpu');
    const mainB = threadCpuMs(server.pid, server.pid);
    const counts = await client.call<Counts>('counts');
    const windowMs = b.at - a.at;
    const cpu = (b.usage.user - a.usage.user + b.usage.system - a.usage.system) / 1000 / windowMs;
    const elu = a.elu && b.elu ? (b.elu.active - a.elu.active) / (b.elu.active - a.elu.active + b.elu.idle - a.elu.idle) : null;
    const mainCpu = mainA !== null && mainB !== null ? (mainB - mainA) / windowMs : null;
    const total = Object.values(counts.byKind).reduce((x, y) => x + y, 0);

    // Every subscription of a job sees the same events: per job, PROGRESS received / its subscriptions.
    const subsPerJob = new Map<string, number>();
    for (let i = 0; i < sockets * perSocket; i++) {
      const id = ids[i % ids.length]!;
      subsPerJob.set(id, (subsPerJob.get(id) ?? 0) + 1);
    }
    let maxPerJob = 0;
    for (const [id, byKind] of Object.entries(counts.byJob)) {
      const perJob = (byKind['PROGRESS'] ?? 0) / (subsPerJob.get(id) ?? 1) / (counts.ms / 1000);
      maxPerJob = Math.max(maxPerJob, perJob);
    }
    // Still RUNNING after the window: a scan that ended inside it would make the sides unlike.
    const after = await Promise.all(ids.map((id) => gql<JobRead>(url, READ, { id })));
    const notRunning = after.filter((r) => r.job.status !== 'RUNNING');
    if (notRunning.length) console.log(`  ${label}: WARNING ${notRunning.length} scans not RUNNING at the window's end (raise BENCH_PROGRESS_REPEAT)`);
    console.log(
      `  ${label}: ${total} messages in ${fmt(counts.ms, 0)} ms, ${JSON.stringify(counts.byKind)}, ${counts.errors} client errors${counts.errors ? ` (last: ${counts.lastError})` : ''}`,
    );
    if (counts.sample) console.log(`  ${label}: a PROGRESS message as received (${counts.sample.length} bytes): ${counts.sample}`);
    return {
      label,
      perSecond: total / (counts.ms / 1000),
      cpu,
      mainCpu,
      elu,
      counts,
      maxProgressPerJobPerSecond: maxPerJob,
      connectMs: connected.ms,
    };
  } finally {
    await Promise.allSettled(ids.map((id) => gql(url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id status } } }', { id }, 10_000)));
    await Promise.allSettled([client?.stop(), server.stop()]);
  }
}

export async function run(): Promise<Verdict[]> {
  const sizes: Sizes = {
    sockets: envNumber('BENCH_PROGRESS_SOCKETS', 100),
    perSocket: envNumber('BENCH_PROGRESS_PER_SOCKET', 100),
    jobs: envNumber('BENCH_PROGRESS_JOBS', 4),
    seconds: envNumber('BENCH_PROGRESS_SECONDS', 10),
    rows: envNumber('BENCH_PROGRESS_ROWS', 20_000_000),
    repeat: envNumber('BENCH_PROGRESS_REPEAT', 2),
  };
  const subs = sizes.sockets * sizes.perSocket;
  const count = subs.toLocaleString('en');
  console.log(
    `\n## 8. PROGRESS events: ${count} jobStatus subscriptions (${sizes.sockets} sockets × ${sizes.perSocket}) on ${sizes.jobs} running DuckDB scans, ${sizes.seconds} s window`,
  );

  const off = await runSide('off', 0, sizes);
  const on = await runSide('on', 4, sizes);

  const progressOn = (on.counts.byKind['PROGRESS'] ?? 0) / (on.counts.ms / 1000);
  const pct = (share: number | null): string => (share === null ? '—' : fmt(share * 100, 1));
  const ratio = (x: number | null, y: number | null): string => (x === null || y === null || y === 0 ? '—' : fmt(x / y));
  const usPerEvent = (side: Side, base: Side | null): string => {
    const events = side.perSecond;
    if (events === 0) return '—';
    const cpu = base ? side.cpu - base.cpu : side.cpu;
    return fmt((cpu * 1e6) / events, 1);
  };
  const row = (side: Side, base: Side | null): string[] => [
    `progress ${side.label} (JOBQL_PROGRESS_EVENTS_PER_SECOND=${side.label === 'on' ? 4 : 0})`,
    pct(side.cpu),
    base ? ratio(side.cpu, base.cpu) : '1.00',
    pct(side.mainCpu),
    base ? ratio(side.mainCpu, base.mainCpu) : '1.00',
    pct(side.elu),
    fmt(side.perSecond, 0),
    fmt((side.counts.byKind['PROGRESS'] ?? 0) / (side.counts.ms / 1000), 0),
    fmt(side.maxProgressPerJobPerSecond, 2),
    usPerEvent(side, null),
    base ? usPerEvent(side, base) : '—',
  ];
  printTable(
    `Server CPU (% of one core) and messages delivered, ${count} subscriptions, ${sizes.jobs} scans running, ${sizes.seconds} s (process: the API process, every thread, not DuckDB's worker; main thread: where events are built and sent):`,
    [
      'case',
      'process CPU %',
      'ratio to off',
      'main thread CPU %',
      'ratio to off',
      'event loop %',
      'messages/s',
      'PROGRESS/s',
      'PROGRESS per job per s',
      'process CPU µs per message',
      'extra CPU µs per message (on − off)',
    ],
    [row(off, null), row(on, off)],
  );

  const throttleOk = on.maxProgressPerJobPerSecond <= MAX_PROGRESS_PER_JOB_PER_SECOND && off.maxProgressPerJobPerSecond === 0;
  const verdicts: Verdict[] = [
    {
      bench: 'progress',
      target: `PROGRESS events ≤ ${MAX_PROGRESS_PER_JOB_PER_SECOND} per job per second (the throttle), none when off`,
      measured: `${fmt(on.maxProgressPerJobPerSecond, 2)} per job per second on (the busiest job), ${fmt(off.maxProgressPerJobPerSecond, 2)} off`,
      met: throttleOk,
    },
    {
      bench: 'progress',
      target: 'CPU cost of PROGRESS events (informational)',
      measured:
        `${fmt(progressOn, 0)} PROGRESS/s delivered to ${count} subscriptions; process CPU ${pct(on.cpu)} % vs ${pct(off.cpu)} % off (${ratio(on.cpu, off.cpu)} ×), ` +
        `main thread ${pct(on.mainCpu)} % vs ${pct(off.mainCpu)} % (${ratio(on.mainCpu, off.mainCpu)} ×); ${usPerEvent(on, off)} µs extra CPU per message`,
      met: null,
    },
  ];
  for (const v of verdicts) printVerdict(v);
  return verdicts;
}

if (import.meta.main) await run();
