/**
 * Rows per second for a large result read through GraphQL pages and through each download format,
 * each as a ratio to the raw engine reading the same rows into JSON in the same run.
 *
 *   npm run bench:results            (BENCH_ROWS=1000000 by default; BENCH_PAGE=10000 rows a page)
 *
 * The server runs as its own process (`node src/main.ts`); this process is the client. Baseline:
 * @duckdb/node-api in this process reads the same rows, already materialized in a DuckDB table,
 * and turns every row into JSON text (yieldRowsJson + JSON.stringify per chunk): what a
 * hand-written endpoint over DuckDB would do.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { gqlData, submit, waitForEnd } from '../test/helpers/client.ts';
import { spawnServer } from '../test/helpers/process.ts';
import { tempDir } from '../test/helpers/server.ts';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const PAGE = Number(process.env['BENCH_PAGE'] ?? 10_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
// Five columns, as in the subscription-performance reference: int, text, float, bool, text.
const SQL = `select range as id, 'name ' || range as name, range * 0.5 as score, range % 2 = 0 as even,
  md5(range::varchar) as digest from range(${ROWS})`;

async function best(run: () => Promise<number>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < RUNS; i++) fastest = Math.min(fastest, await run());
  return fastest;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function rawEngineMs(): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    // The rows exist before the clock starts, as jobql's stored result does: only reading counts.
    await connection.run(`CREATE TABLE result AS ${SQL}`);
    return await best(() =>
      timed(async () => {
        const result = await connection.stream('SELECT * FROM result');
        let rows = 0;
        let bytes = 0;
        for await (const chunk of result.yieldRowsJson()) {
          bytes += JSON.stringify(chunk).length;
          rows += chunk.length;
        }
        if (rows !== ROWS || bytes === 0) throw new Error(`raw read ${rows} rows`);
      }),
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const server = await spawnServer({
  JOBQL_DATA_DIR: tempDir('jobql-bench-'),
  JOBQL_MAX_PAGE_SIZE: String(PAGE),
  LOG_LEVEL: 'info',
});
try {
  const job = await waitForEnd(server.url, (await submit(server.url, SQL)).id, 600_000);
  if (job.status !== 'SUCCESS') throw new Error(JSON.stringify(job.error));
  const base = server.url.replace('/graphql', '');

  const raw = await rawEngineMs();
  const pages = await best(() =>
    timed(async () => {
      let after: string | null = null;
      let rows = 0;
      for (;;) {
        const data: any = await gqlData(
          server.url,
          'query($id: ID!, $first: Int, $after: String) { job(id: $id) { result(first: $first, after: $after) { rows pageInfo { hasNextPage endCursor } } } }',
          { id: job.id, first: PAGE, after },
        );
        rows += data.job.result.rows.length;
        if (!data.job.result.pageInfo.hasNextPage) break;
        after = data.job.result.pageInfo.endCursor;
      }
      if (rows !== ROWS) throw new Error(`pages gave ${rows} rows`);
    }),
  );
  const downloads: Record<string, number> = {};
  for (const format of ['csv', 'ndjson', 'arrow', 'parquet']) {
    downloads[format] = await best(() =>
      timed(async () => {
        const response = await fetch(`${base}/jobs/${job.id}/result.${format}`);
        if (response.status !== 200) throw new Error(`${format}: ${response.status}`);
        for await (const _ of response.body as unknown as AsyncIterable<Uint8Array>);
      }),
    );
  }

  const rate = (ms: number): number => Math.round(ROWS / (ms / 1000));
  const rows: [string, number, string][] = [
    ['raw engine → JSON (baseline)', raw, '—'],
    [`GraphQL pages of ${PAGE}`, pages, '≥ 0.50'],
    ...Object.entries(downloads).map(([f, ms]): [string, number, string] => [`download ${f}`, ms, '≥ 0.80']),
  ];
  console.log(`\nresults benchmark: ${ROWS.toLocaleString('en')} rows × 5 columns, best of ${RUNS} runs, node ${process.version}\n`);
  console.log('| path | ms | rows/s | ratio to baseline | target |');
  console.log('|---|---:|---:|---:|---|');
  for (const [name, ms, target] of rows) {
    console.log(`| ${name} | ${ms.toFixed(0)} | ${rate(ms).toLocaleString('en')} | ${(raw / ms).toFixed(2)} | ${target} |`);
  }
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
}
