/**
 * Benchmark 1: submit → result overhead of a trivial query against the raw engine.
 *
 * jobql (bench/servers/jobql-server.ts: the real app with the embedded DuckDB engine process) and
 * the load generator (bench/clients/submit-loop.ts) are separate processes; so is the baseline
 * (bench/servers/duckdb-direct.ts: @duckdb/node-api, connect, run, read rows, close). Requests
 * are sequential. Knobs: BENCH_SUBMIT_N (300), BENCH_SUBMIT_WARMUP (50), BENCH_SUBMIT_SQL.
 */
import { envNumber, envString } from './lib/env.ts';
import { startJobql } from './lib/jobql.ts';
import { launch } from './lib/process.ts';
import { fmt, median, summarize } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';
import type { Sample } from './clients/submit-loop.ts';

const TARGET_ADDED_MS = 2;

export async function run(): Promise<Verdict[]> {
  const n = envNumber('BENCH_SUBMIT_N', 300);
  const warmup = envNumber('BENCH_SUBMIT_WARMUP', 50);
  const sql = envString('BENCH_SUBMIT_SQL', 'select 42');
  console.log(`\n## 1. submit → result overhead: \`${sql}\`, ${n} sequential requests after ${warmup} warm-up, over HTTP`);

  const direct = await launch<{ pid: number }>('duckdb-direct', 'servers/duckdb-direct.ts');
  let raw: number[];
  try {
    raw = await direct.call<number[]>('run', { sql, warmup, iterations: n });
  } finally {
    await direct.stop();
  }
  // jobql as configured by default, then with the status-check budget lifted: the budget (50
  // checks/s by default, meant for Snowflake's monitoring calls) also paces the embedded engine,
  // and a sequential client makes two checks per job (start, end).
  const variants: { name: string; env: Record<string, string> }[] = [
    { name: 'default config', env: {} },
    { name: 'JOBQL_MAX_STATUS_CHECKS_PER_SECOND=10000', env: { JOBQL_MAX_STATUS_CHECKS_PER_SECOND: '10000' } },
  ];
  const measured: { name: string; one: Sample[]; two: Sample[] }[] = [];
  for (const variant of variants) {
    const server = await startJobql('jobql', variant.env);
    const client = await launch<{ pid: number }>('submit-loop', 'clients/submit-loop.ts');
    try {
      const { one, two } = await client.call<{ one: Sample[]; two: Sample[] }>('run', { url: server.info.url, sql, waitMs: 10_000, warmup, iterations: n });
      measured.push({ name: variant.name, one, two });
    } finally {
      await Promise.allSettled([client.stop(), server.stop()]);
    }
  }

  const rawS = summarize(raw);
  const rows: [string, number[]][] = [['raw @duckdb/node-api: connect, run, read rows (baseline)', raw]];
  for (const { name, one, two } of measured) {
    rows.push(
      [`jobql (${name}), one trip: submitQuery(waitMs) selecting result { rows }`, one.map((s) => s.totalMs)],
      [`jobql (${name}), two trips: submitQuery(waitMs), then job(id) { result { rows } }`, two.map((s) => s.totalMs)],
      ['  of which: submitQuery until SUCCESS', two.map((s) => s.submitMs)],
      ['  of which: job(id) { result { rows } }', two.map((s) => s.readMs)],
    );
  }
  printTable(
    'Latency per request, ms (client clock):',
    ['path', 'p50', 'p95', 'p99', 'max', 'added at p50 vs raw', 'ratio p50'],
    rows.map(([name, values], i) => {
      const s = summarize(values);
      return [name, fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), i === 0 ? '—' : fmt(s.p50 - rawS.p50), i === 0 ? '1.00' : fmt(s.p50 / rawS.p50, 1)];
    }),
  );

  const parts = (label: string, samples: Sample[]): string[] => [
    label,
    fmt(median(samples.map((s) => s.toSubmittedMs))),
    fmt(median(samples.map((s) => s.queuedMs))),
    fmt(median(samples.map((s) => s.runMs))),
    fmt(median(samples.map((s) => s.endToAnswerMs))),
  ];
  printTable(
    "Where jobql's time goes, medians in ms, from the job's own timestamps (ms precision, server clock) and the client's:",
    ['path', 'request → submittedAt', 'submittedAt → startedAt (dispatch)', 'startedAt → endedAt (engine: run + Parquet)', 'endedAt → answer read'],
    measured.flatMap(({ name, one, two }) => [parts(`${name}, one trip`, one), parts(`${name}, two trips (submit only)`, two)]),
  );

  const added = (samples: Sample[]): number => summarize(samples.map((s) => s.totalMs)).p50 - rawS.p50;
  const [byDefault, lifted] = measured;
  const verdict: Verdict = {
    bench: 'submit-overhead',
    target: `< ${TARGET_ADDED_MS} ms added at the median`,
    measured:
      `+${fmt(added(byDefault!.one))} ms one trip, +${fmt(added(byDefault!.two))} ms two trips (default config); ` +
      `+${fmt(added(lifted!.one))} / +${fmt(added(lifted!.two))} ms with the status budget lifted (raw p50 ${fmt(rawS.p50)} ms)`,
    met: added(byDefault!.one) < TARGET_ADDED_MS,
  };
  printVerdict(verdict);
  return [verdict];
}

if (import.meta.main) await run();
