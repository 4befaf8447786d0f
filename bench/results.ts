/**
 * Benchmark 5: rows per second for a large result read through GraphQL pages and through each
 * download format, each as a ratio to the raw engine reading the same rows into JSON in the same
 * run.
 *
 *   npm run bench:results            (BENCH_ROWS=1000000 by default; BENCH_PAGE=10000 rows a page)
 *   BENCH_ONLY=results npm run bench (the same, from the runner)
 *
 * The server runs as its own process (`node src/main.ts`); this process is the client. Baseline:
 * @duckdb/node-api in this process reads the same rows, already materialized in a DuckDB table,
 * and turns every row into JSON text (yieldRowsJson + JSON.stringify per chunk): what a
 * hand-written endpoint over DuckDB would do. Knobs: BENCH_ROWS, BENCH_PAGE, BENCH_RUNS (3).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { envNumber } from './lib/env.ts';
import { gql } from './lib/gql.ts';
import { startMain } from './lib/process.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

interface ResultPage {
  job: { result: { rows: unknown[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
}

interface EndedJob {
  id: string;
  status: string;
  isTerminal: boolean;
  error: { code: string; message: string } | null;
}

async function best(runs: number, run: () => Promise<number>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, await run());
  return fastest;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function rawEngineMs(sql: string, rows: number, runs: number): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    // The rows exist before the clock starts, as jobql's stored result does: only reading counts.
    await connection.run(`CREATE TABLE result AS ${sql}`);
    return await best(runs, () =>
      timed(async () => {
        const result = await connection.stream('SELECT * FROM result');
        let read = 0;
        let bytes = 0;
        for await (const chunk of result.yieldRowsJson()) {
          bytes += JSON.stringify(chunk).length;
          read += chunk.length;
        }
        if (read !== rows || bytes === 0) throw new Error(`raw read ${read} rows`);
      }),
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function waitForEnd(url: string, id: string, timeoutMs: number): Promise<EndedJob> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const data = await gql<{ job: EndedJob | null }>(url, 'query($id: ID!) { job(id: $id) { id status isTerminal error { code message } } }', { id });
    if (data.job?.isTerminal) return data.job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not end within ${timeoutMs} ms`);
}

export async function run(): Promise<Verdict[]> {
  const rowCount = envNumber('BENCH_ROWS', 1_000_000);
  const page = envNumber('BENCH_PAGE', 10_000);
  const runs = envNumber('BENCH_RUNS', 3);
  // Five columns, as in the subscription-performance reference: int, text, float, bool, text.
  const sql = `select range as id, 'name ' || range as name, range * 0.5 as score, range % 2 = 0 as even,
  md5(range::varchar) as digest from range(${rowCount})`;
  console.log(`\n## 5. rows per second through GraphQL pages and downloads: ${rowCount.toLocaleString('en')} rows × 5 columns, best of ${runs}`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-bench-'));
  const server = await startMain({ JOBQL_DATA_DIR: dataDir, JOBQL_MAX_PAGE_SIZE: String(page), LOG_LEVEL: 'info' });
  try {
    const submitted = await gql<{ submitQuery: { job: { id: string } } }>(
      server.url,
      'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }',
      { input: { sql } },
    );
    const job = await waitForEnd(server.url, submitted.submitQuery.job.id, 600_000);
    if (job.status !== 'SUCCESS') throw new Error(JSON.stringify(job.error));
    const base = server.url.replace('/graphql', '');

    const raw = await rawEngineMs(sql, rowCount, runs);
    const pages = await best(runs, () =>
      timed(async () => {
        let after: string | null = null;
        let read = 0;
        for (;;) {
          const data: ResultPage = await gql<ResultPage>(
            server.url,
            'query($id: ID!, $first: Int, $after: String) { job(id: $id) { result(first: $first, after: $after) { rows pageInfo { hasNextPage endCursor } } } }',
            { id: job.id, first: page, after },
          );
          read += data.job.result.rows.length;
          if (!data.job.result.pageInfo.hasNextPage) break;
          after = data.job.result.pageInfo.endCursor;
        }
        if (read !== rowCount) throw new Error(`pages gave ${read} rows`);
      }),
    );
    const downloads: Record<string, number> = {};
    for (const format of ['csv', 'ndjson', 'arrow', 'parquet']) {
      downloads[format] = await best(runs, () =>
        timed(async () => {
          const response = await fetch(`${base}/jobs/${job.id}/result.${format}`);
          if (response.status !== 200 || !response.body) throw new Error(`${format}: ${response.status}`);
          const reader = response.body.getReader();
          while (!(await reader.read()).done);
        }),
      );
    }

    const rate = (ms: number): number => Math.round(rowCount / (ms / 1000));
    const lines: [string, number, string, number][] = [
      ['raw engine → JSON (baseline)', raw, '—', 0],
      [`GraphQL pages of ${page}`, pages, '≥ 0.50', 0.5],
      ...Object.entries(downloads).map(([f, ms]): [string, number, string, number] => [`download ${f}`, ms, '≥ 0.80', 0.8]),
    ];
    printTable(
      `results benchmark: ${rowCount.toLocaleString('en')} rows × 5 columns, best of ${runs} runs, node ${process.version}`,
      ['path', 'ms', 'rows/s', 'ratio to baseline', 'target'],
      lines.map(([name, ms, target]) => [name, ms.toFixed(0), rate(ms).toLocaleString('en'), (raw / ms).toFixed(2), target]),
      ['l', 'r', 'r', 'r', 'l'],
    );
    const missed = lines.filter(([, ms, , min]) => min > 0 && raw / ms < min).map(([name]) => name);
    const verdict: Verdict = {
      bench: 'results',
      target: 'pages ≥ 0.50 × raw, downloads ≥ 0.80 × raw',
      measured: `pages ${(raw / pages).toFixed(2)} ×; downloads ${Object.entries(downloads)
        .map(([f, ms]) => `${f} ${(raw / ms).toFixed(2)} ×`)
        .join(', ')}${missed.length ? `; missed: ${missed.join(', ')}` : ''}`,
      met: missed.length === 0,
    };
    printVerdict(verdict);
    return [verdict];
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await run();
