/**
 * The Snowflake adapter through the real snowflake-sdk and the wire-level double: under what
 * production brings (429s and 503s, expired and lost sessions, a cancel before the query id is
 * known, expired results, a monitoring endpoint that forgets a query, the global budget of status
 * calls), attachQuery, and what only Snowflake's results need (type forms, chunked pages, MERGE).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { encodeCursor } from '../../src/graphql/cursors.ts';
import { gql, gqlData, JOB_FIELDS, submit, waitForEnd, waitForStatus } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

let double: SnowflakeDouble;
let server: TestServer;

function snowflakeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    JOBQL_WAREHOUSE: 'snowflake',
    SNOWFLAKE_ACCESS_URL: double.url,
    SNOWFLAKE_ACCOUNT: 'testaccount',
    SNOWFLAKE_USER: 'jobql',
    SNOWFLAKE_PASSWORD: 'secret',
    SNOWFLAKE_HOME: tempDir(),
    JOBQL_POLL_BACKOFF_MS: '50,100,200',
    ...extra,
  };
}

const count = (name: string): number => double.counts.get(name) ?? 0;
const RESULT = 'query($id: ID!) { job(id: $id) { result { rows totalRows } } }';

before(async () => {
  double = await startSnowflakeDouble({ syncWaitMs: 500 });
  server = await startServer(snowflakeEnv());
});
after(async () => {
  await server.stop();
  await double.stop();
});
afterEach(() => {
  Object.assign(double.faults, { tooManyRequests: 0, unavailable: 0, submitDelayMs: 0, queueMs: 0, neverFinishMarker: '' });
});

describe('the Snowflake adapter under faults', () => {
  test('the session asks for keep-alive, and jobs carry their query tag and timeout', async () => {
    assert.equal(double.logins.at(-1)?.['CLIENT_SESSION_KEEP_ALIVE'], true);
    const job = await submit(server.url, 'select 1', { tag: 'dashboard-7', timeoutSeconds: 90 });
    const ended = await waitForEnd(server.url, job.id);
    const record = double.queries.get(ended.queryId);
    assert.equal(record?.queryTag, 'dashboard-7');
  });

  test("a job's start and end are Snowflake's own times (query history), not when jobql noticed them", async () => {
    double.faults.queueMs = 250;
    const job = await submit(server.url, 'select 6 as six /* sleep 300 */');
    const ended = await waitForEnd(server.url, job.id);
    const record = double.queries.get(ended.queryId)!;
    // Timers may fire a millisecond early against Date.now(); the point is that it queued.
    assert.ok(record.queuedMs >= 200, `queued ${record.queuedMs} ms on the double`);
    assert.equal(ended.startedAt, new Date(record.startTime + record.queuedMs).toISOString(), 'started when it left the queue');
    assert.equal(ended.endedAt, new Date(record.endTime).toISOString());
    const history = double.queries.size;
    // Where history does not list the query, the times jobql noticed stand.
    double.faults.queueMs = 0;
    const hidden = await submit(server.url, 'select 7 as seven /* sleep 1000 */');
    const queryId = await waitFor(
      async () => (await gqlData(server.url, 'query($id: ID!) { job(id: $id) { queryId } }', { id: hidden.id })).job.queryId,
      { timeoutMs: 5000, what: 'the query id' },
    );
    double.faults.hiddenFromHistory.add(queryId);
    const noticed = await waitForEnd(server.url, hidden.id);
    const hiddenRecord = double.queries.get(noticed.queryId)!;
    assert.ok(noticed.endedAt && Date.parse(noticed.endedAt) >= hiddenRecord.endTime, 'noticed at or after its end');
    assert.ok(double.queries.size > history, 'the lookups ran as queries of their own');
  });

  test('429 on monitoring: the poller asks again later and the job ends normally', async () => {
    const job = await submit(server.url, 'select 5 as five /* sleep 300 */');
    await waitForStatus(server.url, job.id, 'RUNNING');
    const before429 = count('429');
    double.faults.tooManyRequests = 3;
    const ended = await waitForEnd(server.url, job.id, 20_000);
    assert.equal(ended.status, 'SUCCESS');
    assert.equal(count('429') - before429, 3);
    assert.deepEqual((await gqlData(server.url, RESULT, { id: job.id })).job.result.rows, [[5]]);
  });

  test('503 on submit: the driver retries with the same request id and the query runs once', async () => {
    double.faults.unavailable = 2;
    const job = await submit(server.url, 'select 6 as six');
    const ended = await waitForEnd(server.url, job.id, 30_000);
    assert.equal(ended.status, 'SUCCESS');
    const record = double.queries.get(ended.queryId);
    assert.ok(record?.requestId);
    assert.ok(double.requestIds.filter((id) => id === record.requestId).length >= 3, 'the submit was retried');
    assert.equal([...double.queries.values()].filter((q) => q.requestId === record.requestId).length, 1);
  });

  test('an expired session token is renewed without losing the job', async () => {
    const job = await submit(server.url, 'select 7 as seven /* sleep 300 */');
    await waitForStatus(server.url, job.id, 'RUNNING');
    const renewals = count('renew');
    double.expireSessions();
    const ended = await waitForEnd(server.url, job.id, 20_000);
    assert.equal(ended.status, 'SUCCESS');
    assert.ok(count('renew') > renewals, 'the session was renewed');
    assert.deepEqual((await gqlData(server.url, RESULT, { id: job.id })).job.result.rows, [[7]]);
  });

  test('a lost session: jobql logs in again and finds its running job', async () => {
    const job = await submit(server.url, 'select 8 as eight /* sleep 300 */');
    await waitForStatus(server.url, job.id, 'RUNNING');
    const logins = count('login');
    double.dropSessions();
    const ended = await waitForEnd(server.url, job.id, 20_000);
    assert.equal(ended.status, 'SUCCESS');
    assert.equal(count('login') - logins, 1);
    assert.deepEqual((await gqlData(server.url, RESULT, { id: job.id })).job.result.rows, [[8]]);
  });

  test('cancel before Snowflake answered the submit: aborted by request id, ends ABORTED', async () => {
    double.faults.submitDelayMs = 800;
    double.faults.neverFinishMarker = '/* endless */';
    const known = new Set(double.queries.keys());
    const job = await submit(server.url, 'select 1 /* endless */');
    // The query request is in flight once the double has recorded it (its answer is 800 ms off).
    await waitFor(() => [...double.queries.values()].some((q) => !known.has(q.id) && q.sqlText.includes('/* endless */')), {
      timeoutMs: 5000,
      what: 'the double to receive the query request',
    });
    const cancelled = await gqlData(server.url, `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } } }`, {
      id: job.id,
    });
    assert.equal(cancelled.cancelJob.job.queryId, null, 'no query id yet');
    assert.equal(cancelled.cancelJob.job.status, 'ABORTING');
    const ended = await waitForEnd(server.url, job.id, 20_000);
    assert.equal(ended.status, 'ABORTED');
    assert.equal(ended.error.code, 'QUERY_CANCELLED');
    const record = [...double.queries.values()].find((q) => q.sqlText.includes('/* endless */') && q.error?.code === '000604');
    assert.ok(record, 'the double saw the query cancelled');
  });

  test('a result Snowflake no longer holds is RESULT_EXPIRED', async () => {
    const job = await submit(server.url, 'select 9');
    const ended = await waitForEnd(server.url, job.id);
    double.faults.expiredResults.add(ended.queryId);
    const response = await gql(server.url, RESULT, { id: job.id });
    assert.equal(response.errors?.[0]?.extensions?.code, 'RESULT_EXPIRED');
    const download = await fetch(`${server.url.replace('/graphql', '')}/jobs/${job.id}/result.csv`);
    assert.equal(download.status, 410);
  });

  test('a query monitoring stops knowing (NO_QUERY_DATA) ends FAILED_WITH_INCIDENT, not stuck', async () => {
    const job = await submit(server.url, 'select 10 /* sleep 5000 */');
    const running = await waitForStatus(server.url, job.id, 'RUNNING');
    double.queries.delete(running.queryId);
    const ended = await waitForEnd(server.url, job.id, 30_000);
    assert.equal(ended.status, 'FAILED_WITH_INCIDENT');
    assert.equal(ended.error.code, 'WAREHOUSE_ERROR');
  });
});

describe('the global budget of status calls', () => {
  test('monitoring calls stay within JOBQL_MAX_STATUS_CHECKS_PER_SECOND however many jobs run', async () => {
    const budgeted = await startServer(snowflakeEnv({ JOBQL_MAX_STATUS_CHECKS_PER_SECOND: '4', JOBQL_POLL_BACKOFF_MS: '20' }));
    try {
      const before = count('monitoring');
      const started = Date.now();
      const jobs = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(budgeted.url, `select ${i} /* sleep 1500 */`)));
      const ended = await Promise.all(jobs.map((job) => waitForEnd(budgeted.url, job.id, 30_000)));
      const seconds = (Date.now() - started) / 1000;
      assert.ok(ended.every((job) => job.status === 'SUCCESS'));
      const calls = count('monitoring') - before;
      // A full bucket (4) plus 4 a second; without the budget 8 jobs polled every 20 ms make hundreds.
      assert.ok(calls <= 4 + Math.ceil(seconds * 4), `${calls} monitoring calls in ${seconds.toFixed(1)} s`);
      assert.ok(calls >= 8, 'every job was checked');
      assert.ok(budgeted.app.jobs.poller.stats.deferredByBudget > 0, 'the budget held checks back');
    } finally {
      await budgeted.stop();
    }
  });
});

describe('attachQuery', () => {
  const ATTACH = `mutation($queryId: String!) { attachQuery(queryId: $queryId) { job { ${JOB_FIELDS} } } }`;

  /** A query started outside jobql, straight through the double's query endpoint. */
  async function startElsewhere(sql: string): Promise<string> {
    const login = await fetch(`${double.url}/session/v1/login-request`, {
      method: 'POST',
      body: JSON.stringify({ data: { LOGIN_NAME: 'jobql', PASSWORD: 'secret' } }),
    });
    const token = ((await login.json()) as { data: { token: string } }).data.token;
    const response = await fetch(`${double.url}/queries/v1/query-request`, {
      method: 'POST',
      headers: { authorization: `Snowflake Token="${token}"` },
      body: JSON.stringify({ sqlText: sql, asyncExec: true }),
    });
    return ((await response.json()) as { data: { queryId: string } }).data.queryId;
  }

  test('makes a job of a query started elsewhere, with its text, and tracks it to its result', async () => {
    const queryId = await startElsewhere('select 11 as eleven /* sleep 300 */');
    const attached = (await gqlData(server.url, ATTACH, { queryId })).attachQuery.job;
    assert.equal(attached.queryId, queryId);
    assert.equal(attached.queryText, 'select 11 as eleven /* sleep 300 */');
    const ended = await waitForEnd(server.url, attached.id, 20_000);
    assert.equal(ended.status, 'SUCCESS');
    assert.deepEqual((await gqlData(server.url, RESULT, { id: attached.id })).job.result.rows, [[11]]);
    const again = (await gqlData(server.url, ATTACH, { queryId })).attachQuery.job;
    assert.equal(again.id, attached.id, 'attaching twice returns the same job');
  });

  test('a query the role cannot see in history attaches with an empty text', async () => {
    const queryId = await startElsewhere('select 12');
    double.faults.hiddenFromHistory.add(queryId);
    const attached = (await gqlData(server.url, ATTACH, { queryId })).attachQuery.job;
    assert.equal(attached.queryText, '');
    assert.equal((await waitForEnd(server.url, attached.id)).status, 'SUCCESS');
  });

  test('unknown and malformed query ids are NOT_FOUND and BAD_USER_INPUT', async () => {
    const unknown = await gql(server.url, ATTACH, { queryId: '01234567-89ab-cdef-0123-456789abcdef' });
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    const malformed = await gql(server.url, ATTACH, { queryId: 'not a query id' });
    assert.equal(malformed.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  test('attaching is a permission: FORBIDDEN with JOBQL_ALLOW_ATTACH=false', async () => {
    const closed = await startServer(snowflakeEnv({ JOBQL_ALLOW_ATTACH: 'false' }));
    try {
      const queryId = await startElsewhere('select 13');
      const response = await gql(closed.url, ATTACH, { queryId });
      assert.equal(response.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    } finally {
      await closed.stop();
    }
  });
});

describe('results on Snowflake', () => {
  test('every type in its documented JSON form, with the column metadata', async () => {
    const job = await submit(
      server.url,
      `select 42 as n, 12345678901234567890::hugeint as big, 1.25::decimal(10,2) as d, 'x' as s,
        date '2024-01-02' as dt, time '01:02:03.5' as t, timestamp '2024-01-02 03:04:05.123456' as ts,
        timestamptz '2024-01-02 03:04:05+01' as tz, 'ab'::blob as b, [1, 2] as l, {'a': 1} as st,
        true as bo, 1.5::double as f, null::integer as nu`,
    );
    await waitForEnd(server.url, job.id);
    const data = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { result { columns { name type precision scale } rows } } }', {
      id: job.id,
    });
    assert.deepEqual(data.job.result.rows, [
      [42, '12345678901234567890', 1.25, 'x', '2024-01-02', '01:02:03.500000000', '2024-01-02T03:04:05.123456000',
        '2024-01-02T02:04:05.000000000Z', 'YWI=', [1, 2], { a: 1 }, true, 1.5, null],
    ]);
    const columns = data.job.result.columns;
    assert.deepEqual(columns[2], { name: 'd', type: 'NUMBER(10,2)', precision: 10, scale: 2 });
    assert.equal(columns[7].type, 'TIMESTAMP_TZ(9)');
  });

  test('a page deep in a large result downloads only the chunks it overlaps', async () => {
    const job = await submit(server.url, 'select range as n from range(5000) order by n');
    await waitForEnd(server.url, job.id);
    await gqlData(server.url, 'query($id: ID!) { job(id: $id) { result(first: 1) { totalRows } } }', { id: job.id });
    const chunksBefore = count('chunk');
    const page = await gqlData(server.url, 'query($id: ID!, $after: String) { job(id: $id) { result(first: 100, after: $after) { rows } } }', {
      id: job.id,
      after: encodeCursor('row', 3500),
    });
    assert.deepEqual(page.job.result.rows[0], [3500]);
    assert.deepEqual(page.job.result.rows[99], [3599]);
    // 1,000-row chunks: a 100-row page needs one or two of the four after the inline rows.
    const used = count('chunk') - chunksBefore;
    assert.ok(used >= 1 && used <= 2, `${used} chunk downloads`);
  });

  test('MERGE counts inserts, updates and deletes apart, as Snowpark’s MergeResult', async () => {
    const job = await submit(
      server.url,
      `create table target (id integer, v integer); insert into target values (1, 1), (2, 2);
       create table source (id integer, v integer); insert into source values (1, 10), (2, 0), (3, 30);
       merge into target using source on target.id = source.id
         when matched and source.v = 0 then delete
         when matched then update set v = source.v
         when not matched then insert values (source.id, source.v);`,
    );
    const ended = await waitForEnd(server.url, job.id);
    assert.equal(ended.status, 'SUCCESS', JSON.stringify(ended.error));
    assert.deepEqual(ended.dml, { rowsInserted: 2 + 3 + 1, rowsUpdated: 1, rowsDeleted: 1 });
  });
});
