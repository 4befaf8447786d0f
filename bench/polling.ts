/**
 * Benchmark 4: warehouse status calls per polling tick over a grid of subscribers S × active jobs J.
 *
 * jobql (bench/servers/jobql-server.ts) runs with the scripted warehouse, whose queries stay
 * RUNNING and which counts every status call and every query id asked about; the poller's own
 * counters (`Poller.stats`) come over IPC too. Subscribers are sockets in a separate process
 * (bench/clients/ws-subscribers.ts), spread over the J running jobs; with J = 0 they subscribe to
 * a job that waits QUEUED for a dispatch slot (the dispatch cap is J), so they are live
 * subscriptions with nothing in flight. One server per J; S grows 0 → 1 → 100 → 1000 on it, one
 * measurement window per step.
 *
 * A constant poll interval (JOBQL_POLL_BACKOFF_MS = BENCH_POLL_PERIOD_MS, 250 ms) makes "due"
 * simple: every running job is due once per period. The status budget is raised to 10,000/s so
 * that it does not defer checks (deferrals are reported anyway).
 * Knobs: BENCH_POLL_S (0,1,100,1000), BENCH_POLL_J (0,1,10,100), BENCH_POLL_PERIOD_MS (250),
 * BENCH_POLL_WINDOW_MS (3000).
 */
import { envList, envNumber } from './lib/env.ts';
import { gql } from './lib/gql.ts';
import { startJobql } from './lib/jobql.ts';
import { launch } from './lib/process.ts';
import { fmt, sleep } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';
import type { ScriptedCounts } from './servers/scripted-warehouse.ts';

interface PollerStats {
  statusCalls: number;
  queriesChecked: number;
  ticks: number;
  deferredByBudget: number;
}

interface Cell {
  j: number;
  s: number;
  ticks: number;
  calls: number;
  ids: number;
  maxIds: number;
  deferred: number;
  notActive: number;
  duplicates: number;
  perJobMin: number;
  perJobMax: number;
  expectedPerJob: number;
  listeners: number;
}

async function submit(url: string, sql: string): Promise<string> {
  const data = await gql<{ submitQuery: { job: { id: string } } }>(url, 'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }', {
    input: { sql },
  });
  return data.submitQuery.job.id;
}

async function measureJ(j: number, steps: number[], periodMs: number, windowMs: number): Promise<Cell[]> {
  const server = await startJobql(`jobql-poll-j${j}`, {
    BENCH_WAREHOUSE: 'scripted',
    BENCH_MAX_DISPATCHED: String(j),
    JOBQL_POLL_BACKOFF_MS: String(periodMs),
    JOBQL_MAX_STATUS_CHECKS_PER_SECOND: '10000',
  });
  const client = await launch<{ pid: number }>(`ws-subscribers-j${j}`, 'clients/ws-subscribers.ts');
  try {
    const running = await Promise.all(Array.from({ length: j }, (_, i) => submit(server.info.url, `select ${i}`)));
    const parked = await submit(server.info.url, 'select 0 -- waits for a slot');
    const cells: Cell[] = [];
    for (const s of steps) {
      if (s > 0) {
        const jobIds = Array.from({ length: s }, (_, i) => (j > 0 ? running[i % j]! : parked));
        await client.call('connect', { url: server.info.wsUrl, mode: 'jobql', count: s, jobIds, batch: 100 });
      }
      await sleep(periodMs * 2);
      const a = await server.call<PollerStats>('resetCounts');
      await sleep(windowMs);
      const w = await server.call<ScriptedCounts & { poller: PollerStats; checksPerQuery: number[] }>('warehouse');
      const b = w.poller;
      const perJob = w.checksPerQuery;
      const listeners = (await server.call<{ listeners: number }>('poller')).listeners;
      cells.push({
        j,
        s,
        ticks: b.ticks - a.ticks,
        calls: b.statusCalls - a.statusCalls,
        ids: b.queriesChecked - a.queriesChecked,
        maxIds: w.maxIdsPerCall,
        deferred: b.deferredByBudget - a.deferredByBudget,
        notActive: w.idsNotActive,
        duplicates: w.duplicateIds,
        perJobMin: perJob.length ? Math.min(...perJob) : 0,
        perJobMax: perJob.length ? Math.max(...perJob) : 0,
        expectedPerJob: windowMs / periodMs,
        listeners,
      });
      if (w.statusCalls !== b.statusCalls - a.statusCalls) {
        console.log(`  note: warehouse saw ${w.statusCalls} calls, poller counted ${b.statusCalls - a.statusCalls}`);
      }
    }
    return cells;
  } finally {
    await Promise.allSettled([client.stop(), server.stop()]);
  }
}

export async function run(): Promise<Verdict[]> {
  const sValues = envList('BENCH_POLL_S', [0, 1, 100, 1000]);
  const jValues = envList('BENCH_POLL_J', [0, 1, 10, 100]);
  const periodMs = envNumber('BENCH_POLL_PERIOD_MS', 250);
  const windowMs = envNumber('BENCH_POLL_WINDOW_MS', 3000);
  console.log(`\n## 4. warehouse status calls per polling tick: S ∈ {${sValues.join(', ')}} × J ∈ {${jValues.join(', ')}}, every job due each ${periodMs} ms, ${windowMs} ms windows`);

  const cells: Cell[] = [];
  for (const j of jValues) cells.push(...(await measureJ(j, sValues, periodMs, windowMs)));

  printTable(
    `Per ${windowMs} ms window (status calls, ids asked, ticks from the poller's counters; per-job checks from the scripted warehouse):`,
    ['J active', 'S subscribers', 'live bus listeners', 'ticks', 'ticks per period', 'status calls', 'ids checked', 'ids per tick', 'max ids in a call', 'checks per job (min–max; expected)', 'ids not active / duplicates', 'deferred by budget'],
    cells.map((c) => [
      c.j,
      c.s,
      c.listeners,
      c.ticks,
      fmt(c.ticks / (windowMs / periodMs), 1),
      c.calls,
      c.ids,
      c.ticks ? fmt(c.ids / c.ticks) : '0',
      c.maxIds,
      c.j ? `${c.perJobMin}–${c.perJobMax}; ${fmt(c.expectedPerJob, 0)}` : '—',
      `${c.notActive} / ${c.duplicates}`,
      c.deferred,
    ]),
  );

  // Due jobs: each running job once per period, so ids per window ≈ J × window / period.
  const idleOk = cells.filter((c) => c.j === 0).every((c) => c.calls === 0 && c.ids === 0);
  const dueOk = cells
    .filter((c) => c.j > 0)
    .every(
      (c) =>
        c.calls === c.ticks &&
        c.maxIds <= c.j &&
        c.notActive === 0 &&
        c.duplicates === 0 &&
        c.perJobMin >= Math.floor(c.expectedPerJob) - 1 &&
        c.perJobMax <= Math.ceil(c.expectedPerJob) + 1,
    );
  // Independent of S: at every S, each job is checked window/period times (± 1 for where the
  // window falls), and the ids asked per window stay within that.
  const independent = jValues
    .filter((j) => j > 0)
    .every((j) => cells.filter((c) => c.j === j).every((c) => Math.abs(c.ids - j * c.expectedPerJob) <= j));
  const ticksPerPeriod = (j: number, s: number): string => {
    const c = cells.find((x) => x.j === j && x.s === s);
    return c ? fmt(c.ticks / (windowMs / periodMs), 1) : '—';
  };
  const maxJ = Math.max(...jValues);
  const verdict: Verdict = {
    bench: 'polling',
    target: 'ids checked per tick = due active jobs, independent of S; 0 when J = 0',
    measured:
      `J = 0: ${idleOk ? '0 calls at every S' : 'calls made with nothing in flight'}; ` +
      `J > 0: ${dueOk ? 'one call per tick, every running job checked once per period, no other ids' : 'extra or missing checks (see table)'}; ` +
      `ids per window = J × ${fmt(windowMs / periodMs, 0)} ± J at every S (${independent ? 'independent of S' : 'NOT independent of S'}); ` +
      `but due checks are not coalesced: at J = ${maxJ} the poller made ${ticksPerPeriod(maxJ, sValues[0] ?? 0)} ticks per period at S = ${sValues[0]} ` +
      `(${ticksPerPeriod(maxJ, sValues.at(-1) ?? 0)} at S = ${sValues.at(-1)}), not 1`,
    met: idleOk && dueOk && independent,
  };
  printVerdict(verdict);
  return [verdict];
}

if (import.meta.main) await run();
