/**
 * Monitoring calls per job, and the time from a query's end to the subscriber's event, on the
 * Snowflake adapter against the wire-level double with scripted query durations. The baseline is
 * the Snowflake connector's own wait loop (getResultsFromQueryId: a status call, then a sleep of
 * 0.5 s × 1, 1, 2, 3, 4, 8, 10, the last repeating), computed for the same durations in this run.
 *
 *   npm run bench:snowflake            # durations 0.2, 1, 3, 8, 20 s, 3 jobs each, concurrently
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlData } from '../test/helpers/client.ts';
import { startServer, tempDir } from '../test/helpers/server.ts';
import { startSnowflakeDouble } from '../test/snowflake-double/server.ts';

const DURATIONS_MS = (process.env['BENCH_DURATIONS_MS'] ?? '200,1000,3000,8000,20000').split(',').map(Number);
const JOBS_PER_DURATION = Number(process.env['BENCH_JOBS_PER_DURATION'] ?? 3);
const CONNECTOR_BACKOFF_MS = [500, 500, 1000, 1500, 2000, 4000, 5000];

/** The connector's loop for a query of `durationMs`: status calls made, and how late it sees the end. */
function connectorBaseline(durationMs: number): { calls: number; lateMs: number } {
  let at = 0;
  let calls = 0;
  for (let i = 0; ; i++) {
    calls += 1;
    if (at >= durationMs) return { calls, lateMs: at - durationMs };
    at += CONNECTOR_BACKOFF_MS[Math.min(i, CONNECTOR_BACKOFF_MS.length - 1)]!;
  }
}

const double = await startSnowflakeDouble();
const server = await startServer({
  JOBQL_WAREHOUSE: 'snowflake',
  SNOWFLAKE_ACCESS_URL: double.url,
  SNOWFLAKE_ACCOUNT: 'bench',
  SNOWFLAKE_USER: 'jobql',
  SNOWFLAKE_PASSWORD: 'secret',
  SNOWFLAKE_HOME: tempDir(),
  JOBQL_MAX_CONCURRENT_JOBS: '64',
});
const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });

interface Measured {
  durationMs: number;
  calls: number;
  lateMs: number;
}

async function runOne(durationMs: number, n: number): Promise<Measured> {
  const sql = `select ${n} as n /* sleep ${durationMs} */`;
  const data = await gqlData(server.url, 'mutation($sql: String!) { submitQuery(input: {sql: $sql}) { job { id } } }', { sql });
  const id: string = data.submitQuery.job.id;
  const seenAt = await new Promise<number>((resolve, reject) => {
    client.subscribe<{ jobStatus: { status: string } }>(
      { query: 'subscription($id: ID!) { jobStatus(id: $id) { status } }', variables: { id } },
      {
        next: (value) => {
          if (value.data?.jobStatus.status === 'SUCCESS') resolve(Date.now());
        },
        error: reject,
        complete: () => {},
      },
    );
  });
  const job = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { queryId } }', { id });
  const record = double.queries.get(job.job.queryId)!;
  const calls = double.monitoringCalls.get(record.id) ?? 0;
  return { durationMs, calls, lateMs: seenAt - record.endTime };
}

const runs = DURATIONS_MS.flatMap((d) => Array.from({ length: JOBS_PER_DURATION }, (_, i) => runOne(d, i)));
const measured = await Promise.all(runs);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
console.log(`monitoring calls per job and end → event latency, ${JOBS_PER_DURATION} jobs per duration, all concurrent`);
console.log('| query duration | jobql calls | connector calls | ratio | jobql end→event ms (median) | connector sees end after ms |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const durationMs of DURATIONS_MS) {
  const mine = measured.filter((m) => m.durationMs === durationMs);
  const calls = median(mine.map((m) => m.calls));
  const late = median(mine.map((m) => m.lateMs));
  const base = connectorBaseline(durationMs);
  console.log(`| ${durationMs / 1000} s | ${calls} | ${base.calls} | ${(calls / base.calls).toFixed(2)} | ${late} | ${base.lateMs} |`);
}
await client.dispose();
await server.stop();
await double.stop();
