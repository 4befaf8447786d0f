/**
 * The embedded engine in its own OS process: user SQL runs there, the API process survives its
 * crash, a cancel or timeout the engine does not honour in time ends with a SIGKILL, a fresh engine
 * takes the next jobs, and no engine outlives the API process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { gqlData, JOB_FIELDS, submit, waitForEnd, waitForStatus } from '../helpers/client.ts';
import { enginePid, enginePidsInLog, isAlive, nextEnginePid, waitUntilDead } from '../helpers/engine.ts';
import { runToExit, spawnServer } from '../helpers/process.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';

/** About 90 s of CPU on two threads: it only ends early if something stops it. */
const LONG_SQL = 'select count(*) from range(100000) a, range(1000000) b where hash(a.range + b.range) % 7 = 3';
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } } }`;
const POLL = { JOBQL_POLL_BACKOFF_MS: '50,100,200' };
const SECRET_ENV = 'JOBQL_TEST_ENGINE_SECRET';

async function run(url: string, sql: string, extra: Record<string, unknown> = {}): Promise<any> {
  return waitForEnd(url, (await submit(url, sql, extra)).id, 20_000);
}

describe('the engine process', () => {
  let server: TestServer;
  before(async () => {
    process.env[SECRET_ENV] = 'hunter2';
    try {
      server = await startServer({ ...POLL, JOBQL_MAX_CONCURRENT_JOBS: '1' });
    } finally {
      delete process.env[SECRET_ENV];
    }
  });
  after(() => server.stop());

  test('runs DuckDB in another process, with an environment of its own', async () => {
    const pid = enginePid(server);
    assert.notEqual(pid, process.pid);
    assert.ok(isAlive(pid));
    assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^jobql-engine/, 'named for ps and top');
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('UV_THREADPOOL_SIZE=5'), 'sized for JOBQL_MAX_CONCURRENT_JOBS=1');
    assert.ok(!env.some((entry) => entry.startsWith(`${SECRET_ENV}=`)), 'none of the API process environment leaks in');

    const job = await run(server.url, 'select 6 * 7 as answer');
    assert.equal(job.status, 'SUCCESS');
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result { rows } } }`);
    assert.deepEqual(data.job.result.rows, [[42]]);
  });

  test('kill -9 of the engine mid-query: that job ENGINE_CRASHED, the API serves on, a fresh engine runs the rest', async () => {
    const done = await run(server.url, 'select range as n from range(3000)');
    assert.equal(done.status, 'SUCCESS');

    const running = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, running.id, 'RUNNING');
    const queued = await submit(server.url, 'select 99 as late'); // waits for the one slot
    const pid = enginePid(server);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');

    const crashed = await waitForEnd(server.url, running.id, 10_000);
    assert.equal(crashed.status, 'FAILED_WITH_INCIDENT');
    assert.equal(crashed.error.code, 'ENGINE_CRASHED');
    assert.equal(crashed.error.sqlState, null);
    assert.match(crashed.error.message, /exited unexpectedly \(SIGKILL\)/);
    assert.ok(Date.now() - killedAt < 5000, 'the crash is seen at once, not at a timeout');

    const fresh = await nextEnginePid(server, pid);
    assert.ok(await waitUntilDead(pid, 2000));
    assert.equal((await waitForEnd(server.url, queued.id, 15_000)).status, 'SUCCESS', 'the job that waited runs on the fresh engine');
    assert.equal((await run(server.url, 'select 1')).status, 'SUCCESS', 'a job submitted afterwards runs');
    assert.equal(enginePid(server), fresh);

    // Results written by the engine that died are still there, for SQL and for pages.
    const scan = await run(server.url, `select count(*) as n, sum(n)::bigint as total from result_scan('${done.id}')`);
    assert.equal(scan.status, 'SUCCESS', JSON.stringify(scan.error));
    const scanned = await gqlData(server.url, `{ job(id: "${scan.id}") { result { rows } } }`);
    assert.deepEqual(scanned.job.result.rows, [[3000, 4498500]]);
    const after = Buffer.from('row:2990').toString('base64url');
    const page = await gqlData(server.url, `{ job(id: "${done.id}") { result(first: 100, after: "${after}") { rows totalRows } } }`);
    assert.equal(page.job.result.totalRows, 3000);
    assert.deepEqual(page.job.result.rows[0], [2990]);
    assert.equal(page.job.result.rows.length, 10);
  });

  test('a cancel the engine honours does not kill it', async () => {
    const pid = enginePid(server);
    const job = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, job.id, 'RUNNING');
    await gqlData(server.url, CANCEL, { id: job.id });
    const ended = await waitForEnd(server.url, job.id, 5000);
    assert.equal(ended.status, 'ABORTED');
    assert.equal(enginePid(server), pid);
    assert.ok(isAlive(pid));
  });
});

describe('the hard kill (JOBQL_DUCKDB_KILL_AFTER_MS=0: no grace, the interrupt never gets its chance)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ ...POLL, JOBQL_DUCKDB_KILL_AFTER_MS: '0', JOBQL_MAX_CONCURRENT_JOBS: '2' });
  });
  after(() => server.stop());

  test('cancel: the engine is killed, the job ABORTED, the job beside it ENGINE_CRASHED, the next job runs', async () => {
    const cancelled = await submit(server.url, LONG_SQL);
    const beside = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, cancelled.id, 'RUNNING');
    await waitForStatus(server.url, beside.id, 'RUNNING');
    const pid = enginePid(server);

    await gqlData(server.url, CANCEL, { id: cancelled.id });
    const aborted = await waitForEnd(server.url, cancelled.id, 5000);
    assert.equal(aborted.status, 'ABORTED');
    assert.equal(aborted.error.code, 'QUERY_CANCELLED');
    const crashed = await waitForEnd(server.url, beside.id, 5000);
    assert.equal(crashed.status, 'FAILED_WITH_INCIDENT');
    assert.equal(crashed.error.code, 'ENGINE_CRASHED');
    assert.match(crashed.error.message, /another job did not stop .* of its cancel/);

    assert.ok(await waitUntilDead(pid, 2000), 'the engine was killed');
    const fresh = await nextEnginePid(server, pid);
    assert.notEqual(fresh, pid);
    assert.equal((await run(server.url, 'select 1')).status, 'SUCCESS');
  });

  test('timeout: the engine is killed at timeoutSeconds, the job STATEMENT_TIMEOUT, the next job runs', async () => {
    const pid = enginePid(server);
    const job = await run(server.url, LONG_SQL, { timeoutSeconds: 1 });
    assert.equal(job.status, 'FAILED_WITH_ERROR');
    assert.equal(job.error.code, 'STATEMENT_TIMEOUT');
    const ran = Date.parse(job.endedAt) - Date.parse(job.startedAt);
    assert.ok(ran >= 900 && ran < 3000, `ran ${ran} ms`);
    assert.ok(await waitUntilDead(pid, 2000), 'the engine was killed');
    await nextEnginePid(server, pid);
    assert.equal((await run(server.url, 'select 2')).status, 'SUCCESS');
  });
});

describe('the engine and the API process', () => {
  test('kill -9 of the API process takes its engine with it, even mid-query', async () => {
    const server = await spawnServer({ ...POLL, JOBQL_DATA_DIR: tempDir() });
    let pid: number | undefined;
    try {
      pid = enginePidsInLog(server.output())[0];
      assert.ok(pid && isAlive(pid), server.output());
      const job = await submit(server.url, LONG_SQL);
      await waitForStatus(server.url, job.id, 'RUNNING');
    } finally {
      server.child.kill('SIGKILL');
    }
    assert.equal((await server.exited).signal, 'SIGKILL');
    assert.ok(await waitUntilDead(pid, 5000), `engine ${pid} outlived the API process`);
  });

  test('an engine that cannot open the warehouse stops the start with its reason', async () => {
    const dataDir = tempDir();
    const { code, output } = await runToExit({ JOBQL_DATA_DIR: dataDir, JOBQL_DUCKDB_PATH: dataDir, PORT: '0' });
    assert.notEqual(code, 0);
    assert.match(output, /could not open the warehouse/);
  });
});
