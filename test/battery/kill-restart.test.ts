/**
 * kill -9 at random moments, many times over, on one data directory: after every restart every
 * job is there, the finished ones unchanged, none stuck, none run twice. The embedded warehouse's
 * running jobs end with a clear status (their engine died with the process); Snowflake's are
 * polled again to their end (they run in the warehouse). Counts: BATTERY_KILL_RUNS_DUCKDB and
 * BATTERY_KILL_RUNS_SNOWFLAKE; moments from BATTERY_SEED (printed on failure).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type GraphQLResponse, gql, submit } from '../helpers/client.ts';
import { type ServerProcess, spawnServer } from '../helpers/process.ts';
import { tempDir } from '../helpers/server.ts';
import { seededRandom as random } from './seed.ts';
import { WaitForTimeout, waitFor } from '../helpers/wait-for.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

const SEED = Number(process.env['BATTERY_SEED'] ?? 20261124);
const DUCKDB_RUNS = Number(process.env['BATTERY_KILL_RUNS_DUCKDB'] ?? 35);
const SNOWFLAKE_RUNS = Number(process.env['BATTERY_KILL_RUNS_SNOWFLAKE'] ?? 15);
const TERMINAL = new Set(['SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT', 'ABORTED', 'DISCONNECTED']);
const ALL_JOBS = `{ jobs(first: 100) { pageInfo { hasNextPage endCursor } nodes { id status queryText error { code } } } }`;

interface Seen {
  status: string;
  errorCode: string | null;
  queryText: string;
}

async function allJobs(url: string): Promise<Map<string, Seen>> {
  const jobs = new Map<string, Seen>();
  let after: string | null = null;
  for (;;) {
    const query: string = after ? ALL_JOBS.replace('jobs(first: 100)', `jobs(first: 100, after: ${JSON.stringify(after)})`) : ALL_JOBS;
    const page: GraphQLResponse<any> = await gql(url, query);
    if (page.errors) throw new Error(JSON.stringify(page.errors));
    for (const job of page.data.jobs.nodes) {
      jobs.set(job.id, { status: job.status, errorCode: job.error?.code ?? null, queryText: job.queryText });
    }
    if (!page.data.jobs.pageInfo.hasNextPage) return jobs;
    after = page.data.jobs.pageInfo.endCursor;
  }
}

/** Waits until every job is terminal; returns the jobs that are not after `ms` (stuck). */
async function settle(url: string, ms: number): Promise<Map<string, Seen>> {
  let jobs = new Map<string, Seen>();
  try {
    await waitFor(
      async () => {
        jobs = await allJobs(url);
        return [...jobs.values()].every((j) => TERMINAL.has(j.status));
      },
      { timeoutMs: ms, intervalMs: 100, what: 'every job to be terminal' },
    );
  } catch (error) {
    // The caller reports the jobs still unfinished as stuck.
    if (!(error instanceof WaitForTimeout)) throw error;
  }
  return jobs;
}

/**
 * One kill -9 cycle: start on the data directory, check what the last cycle left, submit a batch,
 * kill at a random moment. Returns what the cycle saw just before the kill.
 */
async function cycle(options: {
  env: Record<string, string>;
  rng: () => number;
  batch: (marker: () => string) => string[];
  known: Map<string, Seen>;
  label: string;
}): Promise<{ stuck: string[]; lost: string[]; changed: string[]; killedAtMs: number }> {
  const server: ServerProcess = await spawnServer(options.env);
  try {
    const now = await settle(server.url, 20_000);
    const lost = [...options.known.keys()].filter((id) => !now.has(id));
    const stuck = [...now].filter(([, j]) => !TERMINAL.has(j.status)).map(([id, j]) => `${id} ${j.status}`);
    const changed = [...options.known]
      .filter(([id, before]) => TERMINAL.has(before.status) && now.get(id)?.status !== before.status)
      .map(([id, before]) => `${id} ${before.status} -> ${now.get(id)?.status}`);
    for (const [id, job] of now) options.known.set(id, job);

    const submitted = await Promise.all(options.batch(() => randomUUID()).map((sql) => submit(server.url, sql)));
    // Sometimes cancel one of them, so ABORTING/ABORTED are among the states a kill can meet.
    if (options.rng() < 0.3 && submitted[0]) {
      await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: submitted.at(-1).id });
    }
    // A real wait: the kill's moment, at random within the batch's run, is what is tested.
    const killedAtMs = Math.floor(options.rng() * 1500);
    await new Promise((r) => setTimeout(r, killedAtMs));
    for (const [id, job] of await allJobs(server.url)) options.known.set(id, job);
    return { stuck, lost, changed, killedAtMs };
  } finally {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

describe('kill -9 at random moments', { timeout: 15 * 60_000 }, () => {
  test(`embedded DuckDB: ${DUCKDB_RUNS} kills, 0 jobs lost, stuck, changed or run twice (seed ${SEED})`, { timeout: 10 * 60_000 }, async () => {
    const rng = random(SEED);
    const dataDir = tempDir('jobql-kill-');
    const env = { JOBQL_DATA_DIR: dataDir, JOBQL_MAX_CONCURRENT_JOBS: '2', JOBQL_POLL_BACKOFF_MS: '50,100' };
    const known = new Map<string, Seen>();
    const problems: string[] = [];
    const setup = await spawnServer(env);
    await submit(setup.url, 'create table runs (marker varchar, h ubigint)');
    await settle(setup.url, 10_000);
    setup.child.kill('SIGKILL');
    await setup.exited;
    // Every job inserts its marker once: a job run twice would leave its marker twice.
    const batch = (marker: () => string): string[] => [
      `insert into runs select '${marker()}', 0`,
      `insert into runs select '${marker()}', max(hash(i)) from range(20000000) t(i)`,
      `insert into runs select '${marker()}', max(hash(i)) from range(1000000000) t(i)`,
      `select max(hash(i)) from range(${Math.floor(rng() * 300_000_000)}) t(i)`,
      'select * from no_such_table',
      `insert into runs select '${marker()}', max(hash(i)) from range(60000000) t(i)`,
    ];
    for (let run = 0; run < DUCKDB_RUNS; run++) {
      const outcome = await cycle({ env, rng, batch, known, label: `duckdb ${run}` });
      for (const kind of ['lost', 'stuck', 'changed'] as const) {
        for (const id of outcome[kind]) problems.push(`run ${run} (killed at ${outcome.killedAtMs} ms): ${kind} ${id}`);
      }
    }
    const last = await spawnServer(env);
    try {
      const final = await settle(last.url, 30_000);
      for (const id of known.keys()) if (!final.has(id)) problems.push(`lost ${id}`);
      for (const [id, job] of final) if (!TERMINAL.has(job.status)) problems.push(`stuck ${id} ${job.status}`);
      const twice = await submit(last.url, 'select marker, count(*) as n from runs group by marker having count(*) > 1', { waitMs: 10_000 });
      const rows = await gql(last.url, 'query($id: ID!) { job(id: $id) { result { totalRows } } }', { id: twice.id });
      const runTwice = rows.data?.job.result.totalRows as number;
      // Every SUCCESS insert left its marker exactly once.
      const ok = [...final.values()].filter((j) => j.status === 'SUCCESS' && j.queryText.startsWith('insert'));
      const markers = ok.map((j) => /'([0-9a-f-]{36})'/.exec(j.queryText)?.[1]).filter(Boolean);
      const check = await submit(last.url, `select count(distinct marker) as n from runs where marker in (${markers.map((m) => `'${m}'`).join(',') || "''"})`, {
        waitMs: 10_000,
      });
      const found = await gql(last.url, 'query($id: ID!) { job(id: $id) { result { rows } } }', { id: check.id });
      const byStatus = new Map<string, number>();
      for (const job of final.values()) byStatus.set(`${job.status}${job.errorCode ? `/${job.errorCode}` : ''}`, (byStatus.get(`${job.status}${job.errorCode ? `/${job.errorCode}` : ''}`) ?? 0) + 1);
      console.log(`kill -9 battery (duckdb): ${DUCKDB_RUNS} kills, ${final.size} jobs, ${problems.length} problems, ${runTwice} run twice; by status ${JSON.stringify(Object.fromEntries(byStatus))}`);
      assert.equal(runTwice, 0, 'a job ran twice');
      assert.equal(Number(found.data?.job.result.rows[0][0]), markers.length, 'a SUCCESS insert left no row');
    } finally {
      last.child.kill('SIGKILL');
      await last.exited;
    }
    assert.deepEqual(problems, [], `seed ${SEED}`);
  });

  describe('Snowflake through the double', () => {
    let double: SnowflakeDouble;
    before(async () => {
      double = await startSnowflakeDouble({ chunkRows: 100, syncWaitMs: 300 });
    });
    after(() => double.stop());

    test(`${SNOWFLAKE_RUNS} kills: every job polled again to its end, none submitted twice (seed ${SEED})`, { timeout: 10 * 60_000 }, async () => {
      const rng = random(SEED + 1);
      const dataDir = tempDir('jobql-kill-sf-');
      const env = {
        JOBQL_DATA_DIR: dataDir,
        JOBQL_WAREHOUSE: 'snowflake',
        JOBQL_POLL_BACKOFF_MS: '50,100',
        SNOWFLAKE_ACCESS_URL: double.url,
        SNOWFLAKE_ACCOUNT: 'testaccount',
        SNOWFLAKE_USER: 'jobql',
        SNOWFLAKE_PASSWORD: 'secret',
        SNOWFLAKE_HOME: dataDir,
      };
      const known = new Map<string, Seen>();
      const problems: string[] = [];
      const batch = (marker: () => string): string[] => [
        `select 1 as quick /* m:${marker()} */`,
        `select 2 as medium /* m:${marker()} */ /* sleep ${Math.floor(rng() * 1500)} */`,
        `select 3 as slow /* m:${marker()} */ /* sleep 2500 */`,
        `select * from no_such_table /* m:${marker()} */`,
      ];
      for (let run = 0; run < SNOWFLAKE_RUNS; run++) {
        const outcome = await cycle({ env, rng, batch, known, label: `snowflake ${run}` });
        for (const kind of ['lost', 'stuck', 'changed'] as const) {
          for (const id of outcome[kind]) problems.push(`run ${run} (killed at ${outcome.killedAtMs} ms): ${kind} ${id}`);
        }
      }
      const last = await spawnServer(env);
      try {
        const final = await settle(last.url, 30_000);
        for (const [id, job] of final) if (!TERMINAL.has(job.status)) problems.push(`stuck ${id} ${job.status}`);
        // Snowflake keeps running what jobql submitted: nothing is lost to a restart.
        const interrupted = [...final].filter(([, j]) => j.errorCode === 'JOB_INTERRUPTED').map(([id]) => id);
        const executions = new Map<string, number>();
        for (const record of double.queries.values()) {
          const marker = /m:([0-9a-f-]{36})/.exec(record.sqlText)?.[1];
          if (marker) executions.set(marker, (executions.get(marker) ?? 0) + 1);
        }
        const twice = [...executions].filter(([, n]) => n > 1);
        const byStatus = new Map<string, number>();
        for (const job of final.values()) byStatus.set(job.status, (byStatus.get(job.status) ?? 0) + 1);
        console.log(`kill -9 battery (snowflake): ${SNOWFLAKE_RUNS} kills, ${final.size} jobs, ${problems.length} problems, ${twice.length} run twice, ${interrupted.length} interrupted; by status ${JSON.stringify(Object.fromEntries(byStatus))}`);
        assert.deepEqual(twice, []);
        assert.deepEqual(interrupted, []);
      } finally {
        last.child.kill('SIGKILL');
        await last.exited;
      }
      assert.deepEqual(problems, [], `seed ${SEED}`);
    });
  });
});
