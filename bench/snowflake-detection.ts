/**
 * Snowflake detection at scale: 1,000 jobs running at once on the Snowflake adapter (real
 * snowflake-sdk, the wire-level double), each ending at a random moment 2–20 s after its start,
 * each followed by a graphql-ws subscriber. Reported for the default (one monitoring call per job,
 * the connectors' backoff) and for JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY (one query-history statement
 * per identity a tick), both under the same status-call budget (JOBQL_MAX_STATUS_CHECKS_PER_SECOND,
 * 50): the time from a query's end on the double to its SUCCESS event (p50, p99, max), and the
 * status calls made per second (monitoring requests + history statements) against the budget.
 * The baseline is the connector's own wait loop for the same durations, computed in this run.
 *
 *   node bench/snowflake-detection.ts          # BENCH_DETECTION_JOBS [1000], BENCH_DETECTION_MODES [monitoring,history]
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlData } from '../test/helpers/client.ts';
import { startServer, tempDir } from '../test/helpers/server.ts';
import { startSnowflakeDouble } from '../test/snowflake-double/server.ts';
import { seededRandom } from '../test/battery/seed.ts';
import { printVerdict, type Verdict } from './lib/table.ts';

const JOBS = Number(process.env['BENCH_DETECTION_JOBS'] ?? 1000);
const MODES = (process.env['BENCH_DETECTION_MODES'] ?? 'monitoring,history').split(',');
const BUDGET = 50;
const TARGET_P99_MS = 1100;
const CONNECTOR_BACKOFF_MS = [500, 500, 1000, 1500, 2000, 4000, 5000];

/** How late the connector's loop (a call at once, then the backoff) sees a query of `durationMs` end. */
function connectorLateMs(durationMs: number): number {
  let at = 0;
  for (let i = 0; at < durationMs; i++) at += CONNECTOR_BACKOFF_MS[Math.min(i, CONNECTOR_BACKOFF_MS.length - 1)]!;
  return at - durationMs;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Outcome {
  mode: string;
  lates: number[];
  monitoring: number;
  history: number;
  seconds: number;
}

async function runMode(mode: string): Promise<Outcome> {
  const random = seededRandom(20261207);
  const durations = Array.from({ length: JOBS }, () => 2000 + Math.round(random() * 18_000));
  const double = await startSnowflakeDouble();
  const server = await startServer({
    JOBQL_WAREHOUSE: 'snowflake',
    SNOWFLAKE_ACCESS_URL: double.url,
    SNOWFLAKE_ACCOUNT: 'bench',
    SNOWFLAKE_USER: 'jobql',
    SNOWFLAKE_PASSWORD: 'secret',
    SNOWFLAKE_HOME: tempDir(),
    LOG_LEVEL: 'warn',
    JOBQL_MAX_CONCURRENT_JOBS: String(JOBS),
    JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: String(JOBS * 2),
    JOBQL_MAX_SUBMISSIONS_PER_MINUTE: String(JOBS * 10),
    JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET: String(JOBS),
    JOBQL_MAX_STATUS_CHECKS_PER_SECOND: String(BUDGET),
    ...(mode === 'history' ? { JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY: 'true' } : {}),
  });
  const client: Client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  try {
    const monitoringBefore = double.counts.get('monitoring') ?? 0;
    const historyBefore = double.historyStatements;
    const started = Date.now();
    const seen = await Promise.all(
      durations.map(async (durationMs, k) => {
        const sql = `select ${k} as n /* sleep ${durationMs} */`;
        const data = await gqlData(server.url, 'mutation($sql: String!) { submitQuery(input: {sql: $sql}) { job { id } } }', { sql });
        const id: string = data.submitQuery.job.id;
        const at = await new Promise<number>((resolve, reject) => {
          client.subscribe<{ jobStatus: { status: string; job: { queryId: string } } }>(
            { query: 'subscription($id: ID!) { jobStatus(id: $id) { status job { queryId } } }', variables: { id } },
            {
              next: (value) => {
                if (value.data?.jobStatus.status === 'SUCCESS') resolve(Date.now());
              },
              error: reject,
              complete: () => {},
            },
          );
        });
        const { job } = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { queryId } }', { id });
        return at - double.queries.get(job.queryId)!.endTime;
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    return {
      mode,
      lates: seen,
      monitoring: (double.counts.get('monitoring') ?? 0) - monitoringBefore,
      history: double.historyStatements - historyBefore,
      seconds,
    };
  } finally {
    await client.dispose();
    await server.stop();
    await double.stop();
  }
}

export async function run(): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  const outcomes: Outcome[] = [];
  for (const mode of MODES) outcomes.push(await runMode(mode));
  const random = seededRandom(20261207);
  const connector = Array.from({ length: JOBS }, () => connectorLateMs(2000 + Math.round(random() * 18_000)));

  console.log(`Snowflake detection: ${JOBS} jobs running at once (2–20 s each), one subscriber each, budget ${BUDGET} status calls/s`);
  console.log(
    '| status from | end→event p50 ms | p99 ms | max ms | monitoring calls/s | history statements/s | status calls/s of budget | verdict (p99 ≤ 1.1 s, within budget) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  console.log(
    `| connector wait loop, one job alone (computed) | ${percentile(connector, 50)} | ${percentile(connector, 99)} | ${Math.max(...connector)} | – | – | – | baseline |`,
  );
  for (const { mode, lates, monitoring, history, seconds } of outcomes) {
    const p99 = percentile(lates, 99);
    // The budget is of status calls: monitoring requests, or history statements where they are the
    // status; in monitoring mode the history statements are the end-time lookups (issue 15).
    const statusCalls = mode === 'history' ? history + monitoring : monitoring;
    const rate = statusCalls / seconds;
    const met = p99 <= TARGET_P99_MS && rate <= BUDGET;
    console.log(
      `| ${mode} | ${percentile(lates, 50)} | ${p99} | ${Math.max(...lates)} | ${(monitoring / seconds).toFixed(1)} | ` +
        `${(history / seconds).toFixed(1)} | ${((rate / BUDGET) * 100).toFixed(0)} % | ${met ? 'met' : 'missed'} |`,
    );
    const verdict: Verdict = {
      bench: `detection (${mode})`,
      target: `end→event p99 ≤ ${TARGET_P99_MS} ms with ${JOBS} jobs running, within ${BUDGET} status calls/s`,
      measured: `p99 ${p99} ms (p50 ${percentile(lates, 50)}), ${rate.toFixed(1)} status calls/s`,
      // The default mode is reported for comparison: the target is met by the setting.
      met: mode === 'history' ? met : null,
    };
    verdicts.push(verdict);
  }
  for (const verdict of verdicts) printVerdict(verdict);
  return verdicts;
}

if (import.meta.main) await run();
