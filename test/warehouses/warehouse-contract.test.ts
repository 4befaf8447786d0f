/**
 * The warehouse contract, one suite run on every Warehouse adapter (warehouse-targets.ts): the
 * embedded DuckDB directly, and Snowflake through the real snowflake-sdk talking HTTP to the
 * wire-level double (test/snowflake-double). The same GraphQL requests must give the same answers
 * on both; where the warehouses differ by nature (a restart), the target says what to expect.
 * Beside it, adapter-loading.test.ts checks that each deployment loads only its own adapter's driver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collect, gqlData, JOB_FIELDS, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { type TestServer, tempDir } from '../helpers/server.ts';
import { type ContractTarget, duckdbTarget, snowflakeTarget } from './warehouse-targets.ts';

const RESULT = `query($id: ID!, $first: Int, $after: String) { job(id: $id) { status
  result(first: $first, after: $after) { columns { name type nullable } rows totalRows pageInfo { hasNextPage endCursor } } } }`;
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } } }`;

async function run(url: string, sql: string): Promise<any> {
  const job = await submit(url, sql);
  return waitForEnd(url, job.id, 20_000);
}

async function rowsOf(url: string, id: string, first = 1000): Promise<unknown[][]> {
  const data = await gqlData(url, RESULT, { id, first });
  return data.job.result.rows;
}

for (const makeTarget of [duckdbTarget, snowflakeTarget]) {
  describe(`the warehouse contract on ${makeTarget.name.replace('Target', '')}`, () => {
    let target: ContractTarget;
    let server: TestServer;
    before(async () => {
      target = await makeTarget();
      server = await target.start();
    });
    after(async () => {
      await server.stop();
      await target.stop();
    });

    test('collect: a query ends SUCCESS and its rows come back in order, typed', async () => {
      const job = await run(server.url, "select 1 as n, 'a' as s union all select 2, 'b' order by n");
      assert.equal(job.status, 'SUCCESS');
      assert.equal(job.isDone, true);
      assert.equal(job.isFailed, false);
      assert.ok(job.queryId, 'a finished job has its warehouse query id');
      assert.deepEqual(await rowsOf(server.url, job.id), [
        [1, 'a'],
        [2, 'b'],
      ]);
    });

    test('count and first: totalRows, page by page with cursors, across result chunks', async () => {
      const job = await run(server.url, 'select range as n from range(250) order by n');
      const first = await gqlData(server.url, RESULT, { id: job.id, first: 1 });
      assert.equal(first.job.result.totalRows, 250);
      assert.deepEqual(first.job.result.rows, [[0]]);
      const later = await gqlData(server.url, RESULT, { id: job.id, first: 100, after: first.job.result.pageInfo.endCursor });
      assert.equal(later.job.result.rows.length, 100);
      assert.deepEqual(later.job.result.rows[0], [1]);
      assert.deepEqual(later.job.result.rows[99], [100]);
      const tail = await gqlData(server.url, RESULT, { id: job.id, first: 1000, after: later.job.result.pageInfo.endCursor });
      assert.equal(tail.job.result.rows.length, 149);
      assert.deepEqual(tail.job.result.rows.at(-1), [249]);
      assert.equal(tail.job.result.pageInfo.hasNextPage, false);
    });

    test('failure: bad SQL ends FAILED_WITH_ERROR with a typed error, and no result', async () => {
      const job = await run(server.url, 'select * from no_such_table');
      assert.equal(job.status, 'FAILED_WITH_ERROR');
      assert.equal(job.isFailed, true);
      assert.equal(job.error.code, 'SQL_OBJECT_NOT_FOUND');
      assert.match(job.error.message, /no_such_table/);
      const data = await gqlData(server.url, RESULT, { id: job.id });
      assert.equal(data.job.result, null);
    });

    test('cancel: a running query goes ABORTING then ABORTED (QUERY_CANCELLED)', async () => {
      const job = await submit(server.url, target.endlessSql);
      await waitForStatus(server.url, job.id, 'RUNNING', 10_000);
      const cancelled = await gqlData(server.url, CANCEL, { id: job.id });
      assert.equal(cancelled.cancelJob.job.status, 'ABORTING');
      const ended = await waitForEnd(server.url, job.id, 10_000);
      assert.equal(ended.status, 'ABORTED');
      assert.equal(ended.error.code, 'QUERY_CANCELLED');
    });

    test('DML counts: inserted, updated and deleted, summed over a multi-statement job', async () => {
      const table = `t_${Date.now()}`;
      const job = await run(
        server.url,
        `create table ${table} (a integer);
         insert into ${table} values (1), (2), (3);
         update ${table} set a = a + 10 where a > 1;
         delete from ${table} where a = 1;`,
      );
      assert.equal(job.status, 'SUCCESS', JSON.stringify(job.error));
      assert.equal(job.statementCount, 4);
      assert.deepEqual(job.dml, { rowsInserted: 3, rowsUpdated: 2, rowsDeleted: 1 });
      const select = await run(server.url, `select count(*) as n from ${table}`);
      assert.deepEqual(await rowsOf(server.url, select.id), [[2]]);
    });

    test('multi-statement: the result is the last statement’s; a failing statement fails the job', async () => {
      const job = await run(server.url, "select 1 as first; select 'last' as second");
      assert.equal(job.status, 'SUCCESS');
      const data = await gqlData(server.url, RESULT, { id: job.id });
      assert.deepEqual(data.job.result.columns.map((c: { name: string }) => c.name), ['second']);
      assert.deepEqual(data.job.result.rows, [['last']]);
      const failing = await run(server.url, 'select 1; select * from no_such_table; select 3');
      assert.equal(failing.status, 'FAILED_WITH_ERROR');
      assert.equal(failing.error.code, 'SQL_OBJECT_NOT_FOUND');
    });

    test('bindings: positional values reach the warehouse', async () => {
      const job = await submit(server.url, 'select ? + 1 as n, ? as s', { bindings: [41, 'x'] });
      const ended = await waitForEnd(server.url, job.id);
      assert.equal(ended.status, 'SUCCESS', JSON.stringify(ended.error));
      assert.deepEqual(await rowsOf(server.url, job.id), [[42, 'x']]);
    });

    test('the subscription: every transition in order, then completion', async () => {
      const client = wsClient(server.wsUrl);
      try {
        const job = await submit(server.url, 'select 42 as answer');
        const { events, errors } = await collect(
          client,
          'subscription($id: ID!) { jobStatus(id: $id) { status previousStatus sequence job { id isDone } } }',
          { id: job.id },
        );
        assert.equal(errors, null);
        const statuses = events.map((e) => e.jobStatus.status);
        assert.equal(statuses.at(-1), 'SUCCESS');
        assert.ok(statuses.includes('RUNNING') || statuses.length === 1, `saw ${statuses.join(' → ')}`);
        const sequences = events.map((e) => e.jobStatus.sequence);
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'in order');
        assert.equal(new Set(sequences).size, sequences.length, 'nothing twice');
        assert.equal(events.at(-1).jobStatus.job.isDone, true);
      } finally {
        await client.dispose();
      }
    });

    test('timeoutSeconds: a query past its timeout ends with STATEMENT_TIMEOUT', async () => {
      const job = await submit(server.url, target.endlessSql, { timeoutSeconds: 1 });
      const ended = await waitForEnd(server.url, job.id, 15_000);
      assert.equal(ended.status, 'FAILED_WITH_ERROR');
      assert.equal(ended.error.code, 'STATEMENT_TIMEOUT');
    });

    test('restart: a job running when jobql restarts ends as the warehouse allows, never stuck', async () => {
      const dataDir = tempDir();
      let first: TestServer | null = await target.start(dataDir);
      let second: TestServer | null = null;
      try {
        const job = await submit(first.url, target.restartSql);
        await waitForStatus(first.url, job.id, 'RUNNING', 10_000);
        await first.stop();
        first = null;
        second = await target.start(dataDir);
        const ended = await waitForEnd(second.url, job.id, 20_000);
        assert.equal(ended.status, target.afterRestart.status);
        assert.equal(ended.error?.code ?? null, target.afterRestart.errorCode);
        if (ended.status === 'SUCCESS') assert.equal((await rowsOf(second.url, job.id)).length, 1);
      } finally {
        await first?.stop();
        await second?.stop();
      }
    });
  });
}
