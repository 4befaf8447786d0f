/**
 * Benchmark 9: what SQL isolation between principals costs on the embedded warehouse, where each
 * principal's SQL runs in a DuckDB database of its own (src/warehouses/duckdb/tenant-engines.ts).
 *
 * - First-query latency of a new principal (its database file created and opened, hardened) and
 *   of its next queries (open), over HTTP with submitQuery(waitMs), against the raw engine
 *   opening a fresh file for one query and closing it (bench/servers/duckdb-direct.ts) and jobql's
 *   open-mode principal, whose database is open from the start.
 * - Memory per open principal: the engine process's RSS (from /proc, Linux) with none open and with
 *   every principal's database open after its queries, divided by their number.
 *
 * The requests are sequential, from this process. Knobs: BENCH_ISOLATION_PRINCIPALS (32),
 * BENCH_ISOLATION_SQL (`select 42`).
 */
import fs from 'node:fs';
import { newApiKey } from '../src/auth/api-keys.ts';
import { envNumber, envString } from './lib/env.ts';
import { gql } from './lib/gql.ts';
import { startJobql } from './lib/jobql.ts';
import { launch } from './lib/process.ts';
import { fmt, summarize } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

const SUBMIT = `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { status result { rows } } } }`;
/** A first query of a new principal should cost at most this many times the raw engine's. */
const TARGET_FIRST_QUERY_RATIO = 3;

/** One request: submitQuery waiting for the result, timed on this process's clock. */
async function timedQuery(url: string, sql: string, token?: string): Promise<number> {
  const start = performance.now();
  const data = await gql<{ submitQuery: { job: { status: string } } }>(url, SUBMIT, { input: { sql, waitMs: 10_000 } }, 30_000, token);
  if (data.submitQuery.job.status !== 'SUCCESS') throw new Error(`the query ended ${data.submitQuery.job.status}`);
  return performance.now() - start;
}

/** Resident memory of the server's child processes (its engine), in bytes. */
function engineRss(serverPid: number): number {
  const children = fs.readFileSync(`/proc/${serverPid}/task/${serverPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  let total = 0;
  for (const pid of children) {
    const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    total += Number(kb ?? 0) * 1024;
  }
  return total;
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function run(): Promise<Verdict[]> {
  const principals = envNumber('BENCH_ISOLATION_PRINCIPALS', 32);
  const sql = envString('BENCH_ISOLATION_SQL', 'select 42');
  console.log(`\n## 9. SQL isolation: ${principals} principals, each with a database of its own; \`${sql}\` over HTTP`);

  const direct = await launch<{ pid: number }>('duckdb-direct', 'servers/duckdb-direct.ts');
  let raw: number[];
  try {
    raw = await direct.call<number[]>('freshFiles', { sql, iterations: principals });
  } finally {
    await direct.stop();
  }

  // Open mode: one principal, its database open from the start.
  const open = await startJobql('jobql-open');
  let openMode: number[];
  try {
    for (let i = 0; i < 10; i++) await timedQuery(open.info.url, sql);
    openMode = [];
    for (let i = 0; i < principals; i++) openMode.push(await timedQuery(open.info.url, sql));
  } finally {
    await open.stop();
  }

  const keys = Array.from({ length: principals }, (_, i) => newApiKey(`bench-${i}`, false));
  const server = await startJobql('jobql-tenants', {
    JOBQL_API_KEYS: keys.map((k) => k.entry).join(','),
    JOBQL_DUCKDB_MAX_OPEN_DATABASES: String(principals + 1),
    JOBQL_DUCKDB_IDLE_CLOSE_SECONDS: '3600',
  });
  const first: number[] = [];
  const next: number[] = [];
  let before: number;
  let after: number;
  try {
    await settle(500);
    before = engineRss(server.info.pid);
    for (const key of keys) {
      first.push(await timedQuery(server.info.url, sql, key.key));
      for (let i = 0; i < 3; i++) next.push(await timedQuery(server.info.url, sql, key.key));
    }
    await settle(500);
    after = engineRss(server.info.pid);
  } finally {
    await server.stop();
  }

  const rawS = summarize(raw);
  const rows: [string, number[]][] = [
    ['raw @duckdb/node-api: create a file, open, one query, close (baseline)', raw],
    ["jobql, a new principal's first query (its database created and opened)", first],
    ["jobql, the same principals' next queries (database open)", next],
    ["jobql, open mode's principal (database open from the start)", openMode],
  ];
  printTable(
    'Latency per request, ms (client clock):',
    ['path', 'p50', 'p95', 'max', 'ratio p50 vs raw'],
    rows.map(([name, values], i) => {
      const s = summarize(values);
      return [name, fmt(s.p50), fmt(s.p95), fmt(s.max), i === 0 ? '1.00' : fmt(s.p50 / rawS.p50, 1)];
    }),
  );
  const perPrincipal = (after - before) / principals;
  printTable(
    'The engine process, RSS:',
    ['databases open', 'RSS, MiB', 'per open database, MiB'],
    [
      ['0 (before any principal)', fmt(before / 2 ** 20), '—'],
      [String(principals), fmt(after / 2 ** 20), fmt(perPrincipal / 2 ** 20, 1)],
    ],
  );

  const firstP50 = summarize(first).p50;
  const verdicts: Verdict[] = [
    {
      bench: 'isolation-first-query',
      target: `≤ ${TARGET_FIRST_QUERY_RATIO}× the raw engine opening a fresh file`,
      measured: `${fmt(firstP50)} ms p50 (${fmt(firstP50 / rawS.p50, 1)}× raw ${fmt(rawS.p50)} ms; open: ${fmt(summarize(next).p50)} ms)`,
      met: firstP50 / rawS.p50 <= TARGET_FIRST_QUERY_RATIO,
    },
    {
      bench: 'isolation-memory',
      target: 'memory per open principal (measured, no target)',
      measured: `${fmt(perPrincipal / 2 ** 20, 1)} MiB RSS per open database (${principals} open)`,
      met: null,
    },
  ];
  for (const verdict of verdicts) printVerdict(verdict);
  return verdicts;
}

if (import.meta.main) await run();
