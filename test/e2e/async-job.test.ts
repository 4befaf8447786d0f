/**
 * Snowpark AsyncJob behaviours on the embedded warehouse, through a real server and real clients:
 * collect, count, first, failure, DML counts (MERGE counted apart), multi-statement, bindings,
 * result pages with cursors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gql, gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.stop());

const RESULT = `result(first: $first, after: $after) { id
  columns { name type nullable } rows totalRows pageInfo { hasNextPage endCursor } }`;

async function result(id: string, first?: number, afterCursor?: string): Promise<any> {
  const data = await gqlData(
    server.url,
    `query($id: ID!, $first: Int, $after: String) { job(id: $id) { status ${RESULT} } }`,
    { id, first, after: afterCursor },
  );
  return data.job.result;
}

describe('submitQuery', () => {
  test('returns the job at once, QUEUED, with its text and a jobql id', async () => {
    const job = await submit(server.url, 'select 1', { tag: 'quick' });
    assert.match(job.id, /^job_[0-9a-f]{32}$/);
    assert.equal(job.status, 'QUEUED');
    assert.equal(job.queryText, 'select 1');
    assert.equal(job.tag, 'quick');
    assert.equal(job.isDone, false);
    assert.equal(job.isFailed, false);
    assert.equal(job.statementCount, 1);
  });

  test('collect: the whole result, with columns and a Snowflake-format query id', async () => {
    const job = await submit(server.url, "select range as n, 'row ' || range as label from range(5)");
    const ended = await waitForEnd(server.url, job.id);
    assert.equal(ended.status, 'SUCCESS');
    assert.equal(ended.isDone, true);
    assert.equal(ended.isFailed, false);
    assert.match(ended.queryId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(ended.startedAt && ended.endedAt && ended.startedAt <= ended.endedAt);
    const page = await result(job.id);
    assert.deepEqual(
      page.columns.map((c: any) => [c.name, c.type]),
      [
        ['n', 'BIGINT'],
        ['label', 'VARCHAR'],
      ],
    );
    assert.deepEqual(page.rows, [
      [0, 'row 0'],
      [1, 'row 1'],
      [2, 'row 2'],
      [3, 'row 3'],
      [4, 'row 4'],
    ]);
    assert.equal(page.totalRows, 5);
    assert.equal(page.pageInfo.hasNextPage, false);
  });

  test('count: a count(*) query returns its single value', async () => {
    const job = await submit(server.url, 'select count(*) as n from range(12345)');
    await waitForEnd(server.url, job.id);
    const page = await result(job.id);
    assert.deepEqual(page.rows, [[12345]]);
  });

  test('first: result(first: 1) returns the first row and a cursor to the rest', async () => {
    const job = await submit(server.url, 'select range as n from range(10) order by n');
    await waitForEnd(server.url, job.id);
    const page = await result(job.id, 1);
    assert.deepEqual(page.rows, [[0]]);
    assert.equal(page.totalRows, 10);
    assert.equal(page.pageInfo.hasNextPage, true);
  });

  test('pages: cursors walk a result in order, across storage batches, to the end', async () => {
    const job = await submit(server.url, 'select range as n from range(5000) order by n');
    await waitForEnd(server.url, job.id);
    const seen: number[] = [];
    const ids = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await result(job.id, 700, cursor);
      pages += 1;
      ids.add(page.id);
      for (const [n] of page.rows) seen.push(Number(n));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
    }
    assert.equal(pages, Math.ceil(5000 / 700));
    assert.equal(ids.size, pages, 'every page has an id of its own (client caches normalize by it)');
    assert.equal((await result(job.id, 700)).id, [...ids][0], 'the same page has the same id');
    assert.deepEqual(
      seen,
      Array.from({ length: 5000 }, (_, i) => i),
    );
  });

  test('bindings fill positional parameters', async () => {
    const job = await submit(server.url, 'select ?::int + 1 as a, ? as b, ?::boolean as c, ? is null as d', {
      bindings: [41, 'text', true, null],
    });
    await waitForEnd(server.url, job.id);
    assert.deepEqual((await result(job.id)).rows, [[42, 'text', true, true]]);
  });

  test('a failed query ends FAILED_WITH_ERROR with its error, and isFailed', async () => {
    const job = await submit(server.url, 'select * from no_such_table');
    const ended = await waitForEnd(server.url, job.id);
    assert.equal(ended.status, 'FAILED_WITH_ERROR');
    assert.equal(ended.isFailed, true);
    assert.equal(ended.isDone, true);
    assert.equal(ended.error.code, 'SQL_OBJECT_NOT_FOUND');
    assert.equal(ended.error.sqlState, '42P01');
    assert.match(ended.error.message, /no_such_table/);
    assert.equal(await result(job.id), null);
  });

  test('syntax errors and runtime errors are job failures, not request errors', async () => {
    const syntax = await waitForEnd(server.url, (await submit(server.url, 'selec 1')).id);
    assert.equal(syntax.error.code, 'SQL_SYNTAX_ERROR');
    const cast = await waitForEnd(server.url, (await submit(server.url, "select 'abc'::integer")).id);
    assert.equal(cast.error.code, 'SQL_CONVERSION_ERROR');
    const raised = await waitForEnd(server.url, (await submit(server.url, "select error('boom')")).id);
    assert.equal(raised.status, 'FAILED_WITH_ERROR');
    assert.match(raised.error.message, /boom/);
  });

  test('too few or too many bindings fail the job with SQL_BINDING_MISMATCH', async () => {
    const few = await waitForEnd(server.url, (await submit(server.url, 'select ?, ?', { bindings: [1] })).id);
    assert.equal(few.error.code, 'SQL_BINDING_MISMATCH');
    const many = await waitForEnd(server.url, (await submit(server.url, 'select ?', { bindings: [1, 2] })).id);
    assert.equal(many.error.code, 'SQL_BINDING_MISMATCH');
    const merge = await waitForEnd(
      server.url,
      (await submit(server.url, 'create or replace table m (id int); merge into m using (select 1 as id) s on m.id = s.id when not matched then insert values (s.id)', { bindings: [7] })).id,
    );
    assert.equal(merge.error?.code, 'SQL_BINDING_MISMATCH', 'unused bindings fail a job that ends with MERGE too');
  });
});

describe('DML counts', () => {
  test('INSERT, UPDATE, DELETE and MERGE report their rows, MERGE inserted and updated apart', async () => {
    const setup = await waitForEnd(
      server.url,
      (
        await submit(
          server.url,
          `create or replace table accounts (id integer primary key, balance integer);
           create or replace table changes (id integer, balance integer);
           insert into changes values (1, 100), (2, 200), (9, 900);`,
        )
      ).id,
    );
    assert.equal(setup.status, 'SUCCESS');

    const insert = await waitForEnd(
      server.url,
      (await submit(server.url, 'insert into accounts values (1, 10), (2, 20), (3, 30), (4, 40)')).id,
    );
    assert.deepEqual(insert.dml, { rowsInserted: 4, rowsUpdated: 0, rowsDeleted: 0 });

    const update = await waitForEnd(
      server.url,
      (await submit(server.url, 'update accounts set balance = balance + 1 where id >= 3')).id,
    );
    assert.deepEqual(update.dml, { rowsInserted: 0, rowsUpdated: 2, rowsDeleted: 0 });

    const del = await waitForEnd(server.url, (await submit(server.url, 'delete from accounts where id = 4')).id);
    assert.deepEqual(del.dml, { rowsInserted: 0, rowsUpdated: 0, rowsDeleted: 1 });

    const merge = await waitForEnd(
      server.url,
      (
        await submit(
          server.url,
          `merge into accounts using changes on accounts.id = changes.id
           when matched then update set balance = changes.balance
           when not matched then insert values (changes.id, changes.balance)`,
        )
      ).id,
    );
    assert.equal(merge.status, 'SUCCESS');
    assert.deepEqual(merge.dml, { rowsInserted: 1, rowsUpdated: 2, rowsDeleted: 0 });
    const page = await result(merge.id);
    assert.deepEqual(
      page.columns.map((c: any) => c.name),
      ['number of rows inserted', 'number of rows updated', 'number of rows deleted'],
    );
    assert.deepEqual(page.rows, [[1, 2, 0]]);

    const mergeDelete = await waitForEnd(
      server.url,
      (
        await submit(
          server.url,
          `merge into accounts using (select 9 as id) src on accounts.id = src.id when matched then delete`,
        )
      ).id,
    );
    assert.deepEqual(mergeDelete.dml, { rowsInserted: 0, rowsUpdated: 0, rowsDeleted: 1 });

    const select = await waitForEnd(server.url, (await submit(server.url, 'select * from accounts')).id);
    assert.equal(select.dml, null, 'a query without DML has no dml counts');
  });

  test('a multi-statement job returns the last statement result and the DML counts of all', async () => {
    const job = await submit(
      server.url,
      `create or replace table ledger (id integer, v text);
       insert into ledger values (1, 'a'), (2, 'b'), (3, 'c');
       update ledger set v = 'z' where id = 2;
       delete from ledger where id = 3;
       -- a comment; with a semicolon
       select id, v from ledger order by id;`,
    );
    assert.equal(job.statementCount, 5);
    const ended = await waitForEnd(server.url, job.id);
    assert.equal(ended.status, 'SUCCESS');
    assert.deepEqual(ended.dml, { rowsInserted: 3, rowsUpdated: 1, rowsDeleted: 1 });
    assert.deepEqual((await result(job.id)).rows, [
      [1, 'a'],
      [2, 'z'],
    ]);
  });

  test('a failing statement stops a multi-statement job; earlier statements stay applied', async () => {
    const job = await submit(
      server.url,
      `create or replace table partial (id integer); insert into partial values (1); select * from missing; insert into partial values (2)`,
    );
    const ended = await waitForEnd(server.url, job.id);
    assert.equal(ended.status, 'FAILED_WITH_ERROR');
    assert.equal(ended.error.code, 'SQL_OBJECT_NOT_FOUND');
    const check = await waitForEnd(server.url, (await submit(server.url, 'select count(*) from partial')).id);
    assert.equal(check.status, 'SUCCESS');
    assert.deepEqual((await result(check.id)).rows, [[1]]);
  });
});

describe('jobs connection', () => {
  test('lists newest first, filters by tag and status, and pages with cursors', async () => {
    const tag = `list-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit(server.url, `select ${i}`, { tag })).id);
    const failed = (await submit(server.url, 'select * from nowhere', { tag })).id;
    await waitForEnd(server.url, failed);
    for (const id of ids) await waitForEnd(server.url, id);

    const query = `query($first: Int, $after: String, $filter: JobFilter) {
      jobs(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }`;
    const first = await gqlData(server.url, query, { first: 4, filter: { tag } });
    assert.deepEqual(
      first.jobs.edges.map((e: any) => e.node.id),
      [failed, ...ids.slice(2).reverse()],
    );
    assert.equal(first.jobs.pageInfo.hasNextPage, true);
    const second = await gqlData(server.url, query, { first: 4, after: first.jobs.pageInfo.endCursor, filter: { tag } });
    assert.deepEqual(
      second.jobs.edges.map((e: any) => e.node.id),
      ids.slice(0, 2).reverse(),
    );
    assert.equal(second.jobs.pageInfo.hasNextPage, false);

    const onlyFailed = await gqlData(server.url, query, { filter: { tag, status: ['FAILED_WITH_ERROR'] } });
    assert.deepEqual(
      onlyFailed.jobs.edges.map((e: any) => e.node.id),
      [failed],
    );

    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await gqlData(server.url, query, { filter: { tag, submittedAfter: future } });
    assert.equal(none.jobs.edges.length, 0);
    const all = await gqlData(server.url, query, { filter: { tag, submittedBefore: future } });
    assert.equal(all.jobs.edges.length, 6);
  });

  test('job(id) is null for an unknown id', async () => {
    const response = await gql(server.url, '{ job(id: "job_unknown") { id } }');
    assert.deepEqual(response, { data: { job: null } });
  });
});
