/**
 * Benchmark 2: `job(id)` requests per second against a bare graphql-yoga `{ hello }`.
 *
 * Both servers run as their own processes, started in this run (jobql: bench/servers/jobql-server.ts
 * with the embedded engine; hello: bench/servers/hello-server.ts); autocannon runs in a third
 * (bench/clients/http-load.ts). Same transport (HTTP/1.1 keep-alive, JSON body with variables for
 * POST; query string for GET), same concurrency. Runs alternate hello / job so drift hits both.
 * Knobs: BENCH_HTTP_CONNECTIONS (100), BENCH_HTTP_WARMUP_S (5), BENCH_HTTP_SECONDS (10),
 * BENCH_HTTP_GET (1: also GET).
 */
import { envNumber } from './lib/env.ts';
import { gql } from './lib/gql.ts';
import { startJobql } from './lib/jobql.ts';
import { launch } from './lib/process.ts';
import { fmt } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';
import type { LoadParams, LoadResult } from './clients/http-load.ts';

const TARGET_RATIO = 0.85;
/** A realistic read of a job: what a client polling `job(id)` asks for. */
export const JOB_QUERY =
  'query Job($id: ID!) { job(id: $id) { id status isDone isFailed isTerminal queryText submittedAt startedAt endedAt statementCount error { code message } } }';
const HELLO_QUERY = 'query Hello { hello }';

export async function run(): Promise<Verdict[]> {
  const connections = envNumber('BENCH_HTTP_CONNECTIONS', 100);
  const warmupSeconds = envNumber('BENCH_HTTP_WARMUP_S', 5);
  const seconds = envNumber('BENCH_HTTP_SECONDS', 10);
  const withGet = envNumber('BENCH_HTTP_GET', 1) === 1;
  console.log(`\n## 2. job(id) requests per second vs bare yoga { hello }: c=${connections}, ${warmupSeconds} s warm-up, ${seconds} s measured`);

  const hello = await launch<{ url: string }>('hello', 'servers/hello-server.ts', { env: { NODE_ENV: 'production' } });
  const jobql = await startJobql('jobql');
  const load = await launch<{ pid: number }>('http-load', 'clients/http-load.ts');
  try {
    const submitted = await gql<{ submitQuery: { job: { id: string; status: string } } }>(
      jobql.info.url,
      'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id status } } }',
      { input: { sql: 'select 42 as answer', waitMs: 10_000 } },
    );
    const id = submitted.submitQuery.job.id;
    const variables = JSON.stringify({ id });
    const common = { connections, warmupSeconds, seconds };
    const cases: { name: string; server: 'hello' | 'job'; params: LoadParams }[] = [
      { name: 'POST', server: 'hello', params: { ...common, url: hello.info.url, method: 'POST', body: JSON.stringify({ query: HELLO_QUERY }) } },
      { name: 'POST', server: 'job', params: { ...common, url: jobql.info.url, method: 'POST', body: JSON.stringify({ query: JOB_QUERY, variables: { id } }) } },
    ];
    if (withGet) {
      const get = (base: string, query: string, vars?: string): string =>
        `${base}?query=${encodeURIComponent(query)}${vars ? `&variables=${encodeURIComponent(vars)}` : ''}`;
      cases.push(
        { name: 'GET', server: 'hello', params: { ...common, url: get(hello.info.url, HELLO_QUERY), method: 'GET' } },
        { name: 'GET', server: 'job', params: { ...common, url: get(jobql.info.url, JOB_QUERY, variables), method: 'GET' } },
      );
    }
    const results = new Map<string, LoadResult>();
    for (const c of cases) {
      const result = await load.call<LoadResult>('run', c.params);
      results.set(`${c.server} ${c.name}`, result);
      console.log(`  ${c.server} ${c.name}: ${fmt(result.rps)} req/s`);
    }
    const rows = cases.map((c) => {
      const r = results.get(`${c.server} ${c.name}`)!;
      const base = results.get(`hello ${c.name}`)!;
      return [
        c.server === 'hello' ? `yoga { hello } ${c.name} (baseline)` : `jobql job(id) ${c.name}`,
        fmt(r.rps, 0),
        c.server === 'hello' ? '1.00' : (r.rps / base.rps).toFixed(2),
        `${r.latencyP50} / ${r.latencyP99}`,
        r.requests.toLocaleString('en'),
        r.non2xx + r.errors + r.timeouts,
      ];
    });
    printTable(
      `Requests per second, c=${connections}, autocannon in its own process:`,
      ['server and transport', 'req/s', 'ratio to hello', 'latency p50 / p99 ms', 'requests', 'non-2xx + errors'],
      rows,
    );
    const post = results.get('job POST')!.rps / results.get('hello POST')!.rps;
    const verdicts: Verdict[] = [
      {
        bench: 'job-rps',
        target: `POST ≥ ${TARGET_RATIO} × hello`,
        measured: `job(id) POST at ${post.toFixed(2)} × hello (${fmt(results.get('job POST')!.rps, 0)} vs ${fmt(results.get('hello POST')!.rps, 0)} req/s)`,
        met: post >= TARGET_RATIO,
      },
    ];
    if (withGet) {
      const get = results.get('job GET')!.rps / results.get('hello GET')!.rps;
      verdicts.push({
        bench: 'job-rps',
        target: `GET ≥ ${TARGET_RATIO} × hello GET (informational)`,
        measured: `job(id) GET at ${get.toFixed(2)} × hello GET (${fmt(results.get('job GET')!.rps, 0)} req/s; ${(results.get('job GET')!.rps / results.get('job POST')!.rps).toFixed(2)} × its POST)`,
        met: null,
      });
    }
    for (const v of verdicts) printVerdict(v);
    return verdicts;
  } finally {
    await Promise.allSettled([load.stop(), jobql.stop(), hello.stop()]);
  }
}

if (import.meta.main) await run();
