/**
 * The Snowflake test double against the real, unmodified snowflake-sdk over HTTP: if the driver
 * can log in, submit asynchronously, poll, fetch results (inline and chunked), cancel, retry and
 * renew its session against it, the jobql adapter can be tested against it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import snowflake from 'snowflake-sdk';
import { waitFor } from '../helpers/wait-for.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from './server.ts';

snowflake.configure({ logLevel: 'OFF', useEnvProxy: false } as Parameters<typeof snowflake.configure>[0]);

let double: SnowflakeDouble;
let connection: snowflake.Connection;

before(async () => {
  double = await startSnowflakeDouble({ chunkRows: 1000, syncWaitMs: 500 });
  connection = snowflake.createConnection({
    accessUrl: double.url,
    account: 'testaccount',
    username: 'jobql',
    password: 'secret',
    database: 'DB',
    schema: 'PUBLIC',
    warehouse: 'WH',
  });
  await connection.connectAsync();
});
after(async () => {
  await new Promise<void>((resolve) => connection.destroy(() => resolve()));
  await double.stop();
});

function executeAsync(sqlText: string, requestId = randomUUID()): Promise<string> {
  return new Promise((resolve, reject) => {
    connection.execute({
      sqlText,
      asyncExec: true,
      requestId,
      complete: (error, statement) => (error ? reject(error) : resolve(statement.getQueryId())),
    });
  });
}

async function waitForStatus(queryId: string, done: (status: string) => boolean): Promise<string> {
  let last = '';
  return waitFor(
    async () => {
      last = await connection.getQueryStatus(queryId);
      return done(last) && last;
    },
    { timeoutMs: 10_000, intervalMs: 25, what: () => `query ${queryId} to get there (last seen ${last})` },
  );
}

async function rowsOf(queryId: string): Promise<Record<string, unknown>[]> {
  const statement = await connection.getResultsFromQueryId({ queryId });
  const rows: Record<string, unknown>[] = [];
  for await (const row of statement.streamRows()) rows.push(row as Record<string, unknown>);
  return rows;
}

describe('snowflake-sdk against the double', () => {
  test('asyncExec returns a query id at once; the status moves to SUCCESS; rows come back', async () => {
    const queryId = await executeAsync("select 42 as answer, 'x' as letter");
    assert.match(queryId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(await waitForStatus(queryId, (s) => !connection.isStillRunning(s as never)), 'SUCCESS');
    assert.deepEqual(await rowsOf(queryId), [{ answer: 42, letter: 'x' }]);
  });

  test('an unknown query id is NO_QUERY_DATA', async () => {
    assert.equal(await connection.getQueryStatus(randomUUID()), 'NO_QUERY_DATA');
  });

  test('a failed query reports FAILED_WITH_ERROR with its message', async () => {
    const queryId = await executeAsync('select * from no_such_table');
    const status = await waitForStatus(queryId, (s) => s !== 'RUNNING' && s !== 'QUEUED');
    assert.equal(status, 'FAILED_WITH_ERROR');
    await assert.rejects(connection.getQueryStatusThrowIfError(queryId), /no_such_table/);
  });

  test('large results come in chunks', async () => {
    const queryId = await executeAsync('select range as n from range(2500)');
    await waitForStatus(queryId, (s) => s === 'SUCCESS');
    const before = double.counts.get('chunk') ?? 0;
    const rows = await rowsOf(queryId);
    assert.equal(rows.length, 2500);
    assert.equal(rows[2499]?.['n'], 2499);
    assert.equal((double.counts.get('chunk') ?? 0) - before, 2);
  });

  test('a resubmitted requestId runs the query once', async () => {
    const requestId = randomUUID();
    const first = await executeAsync('select 1', requestId);
    const second = await executeAsync('select 1', requestId);
    assert.equal(second, first);
    assert.equal([...double.queries.values()].filter((q) => q.requestId === requestId).length, 1);
  });

  test('cancel through the abort request ends the query FAILED_WITH_ERROR, 000604', async () => {
    double.faults.neverFinishMarker = '/* forever */';
    try {
      const statement = await new Promise<snowflake.RowStatement>((resolve, reject) => {
        const s = connection.execute({
          sqlText: 'select 1 /* forever */',
          asyncExec: true,
          complete: (error) => (error ? reject(error) : resolve(s)),
        });
      });
      const queryId = statement.getQueryId();
      assert.equal(await waitForStatus(queryId, (s) => s === 'RUNNING'), 'RUNNING');
      await new Promise<void>((resolve, reject) => statement.cancel((error) => (error ? reject(error) : resolve())));
      assert.equal(await waitForStatus(queryId, (s) => s !== 'RUNNING'), 'FAILED_WITH_ERROR');
      assert.equal(double.queries.get(queryId)?.error?.code, '000604');
    } finally {
      double.faults.neverFinishMarker = '';
    }
  });

  test('SYSTEM$CANCEL_QUERY cancels by query id', async () => {
    double.faults.neverFinishMarker = '/* forever */';
    try {
      const queryId = await executeAsync('select 2 /* forever */');
      await waitForStatus(queryId, (s) => s === 'RUNNING');
      const cancel = await executeAsync(`select system$cancel_query('${queryId}')`);
      await waitForStatus(cancel, (s) => s === 'SUCCESS');
      assert.deepEqual(Object.values((await rowsOf(cancel))[0] ?? {}), [`query [${queryId}] terminated.`]);
      assert.equal(await waitForStatus(queryId, (s) => s !== 'RUNNING'), 'FAILED_WITH_ERROR');
    } finally {
      double.faults.neverFinishMarker = '';
    }
  });

  test('429 answers are retried by the driver, and the query still runs once', async () => {
    double.faults.tooManyRequests = 2;
    const queryId = await executeAsync('select 3 as three');
    await waitForStatus(queryId, (s) => s === 'SUCCESS');
    const query = double.queries.get(queryId);
    assert.ok(query?.requestId);
    assert.equal([...double.queries.values()].filter((q) => q.requestId === query.requestId).length, 1);
    assert.ok((double.counts.get('429') ?? 0) >= 2);
  });

  test('an expired session token is renewed and the request replayed', async () => {
    const renewals = double.counts.get('renew') ?? 0;
    double.expireSessions();
    const queryId = await executeAsync('select 4 as four');
    assert.equal((double.counts.get('renew') ?? 0) - renewals, 1);
    await waitForStatus(queryId, (s) => s === 'SUCCESS');
    assert.deepEqual(await rowsOf(queryId), [{ four: 4 }]);
  });

  test('an expired result answers 000710', async () => {
    const queryId = await executeAsync('select 5');
    await waitForStatus(queryId, (s) => s === 'SUCCESS');
    double.faults.expiredResults.add(queryId);
    await assert.rejects(rowsOf(queryId), /has expired/);
  });

  test('heartbeat answers', async () => {
    const before = double.counts.get('heartbeat') ?? 0;
    // heartbeatAsync exists in snowflake-sdk 3.x but is missing from its type declarations.
    await (connection as unknown as { heartbeatAsync(): Promise<unknown> }).heartbeatAsync();
    assert.equal((double.counts.get('heartbeat') ?? 0) - before, 1);
  });
});
