/**
 * Cancel, timeouts and bounded concurrency on the embedded warehouse, with real long queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collecting, gql, gqlData, JOB_FIELDS, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { cpuMs, enginePid } from '../helpers/engine.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { within } from '../helpers/wait-for.ts';

/** About 90 s of CPU on two threads: it only ends early if something stops it. */
const LONG_SQL = 'select sum(hash(range)) from range(10000000000)';
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } } }`;

let server: TestServer;
before(async () => {
  server = await startServer({ JOBQL_MAX_CONCURRENT_JOBS: '2' });
});
after(() => server.stop());

/** CPU time the engine process used over `ms`; DuckDB's threads run there. */
async function cpuOver(ms: number): Promise<number> {
  const pid = enginePid(server);
  const start = cpuMs(pid);
  // A real wait: the measuring window of another process's CPU time.
  await new Promise((r) => setTimeout(r, ms));
  return cpuMs(pid) - start;
}

describe('cancelJob', () => {
  test('a running query goes through ABORTING to ABORTED within seconds, and the engine stops', async () => {
    const job = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, job.id, 'RUNNING');
    const pid = enginePid(server);
    assert.ok((await cpuOver(500)) > 300, 'the query keeps the engine busy before the cancel');

    const client = wsClient(server.wsUrl);
    const events = collecting<{ jobStatus: { status: string } }>(client, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', { id: job.id });
    // The first event (RUNNING, the current state) comes once the subscription is in place.
    await within(events.first, { timeoutMs: 5000, what: 'the first event of the subscription' });
    const started = Date.now();
    const cancelled = await gqlData(server.url, CANCEL, { id: job.id });
    assert.equal(cancelled.cancelJob.job.status, 'ABORTING');
    assert.equal(cancelled.cancelJob.job.isDone, true, 'Snowpark counts ABORTING as done');
    assert.equal(cancelled.cancelJob.job.isFailed, true);

    const ended = await waitForEnd(server.url, job.id, 5000);
    const elapsed = Date.now() - started;
    assert.equal(ended.status, 'ABORTED');
    assert.equal(ended.error.code, 'QUERY_CANCELLED');
    assert.ok(elapsed < 2000, `ABORTED after ${elapsed} ms`);
    const { events: seen } = await events.result;
    await client.dispose();
    assert.deepEqual(
      seen.map((e) => e.jobStatus.status),
      ['RUNNING', 'ABORTING', 'ABORTED'],
    );
    assert.ok((await cpuOver(1000)) < 300, 'the engine is idle once the job is ABORTED');
    assert.equal(enginePid(server), pid, 'the interrupt sufficed: no hard kill, the same engine');
  });

  test('cancelling a finished job returns it unchanged', async () => {
    const job = await submit(server.url, 'select 1');
    const ended = await waitForEnd(server.url, job.id);
    const again = await gqlData(server.url, CANCEL, { id: job.id });
    assert.deepEqual(again.cancelJob.job, ended);
  });

  test('cancelling twice is harmless; an unknown id is NOT_FOUND', async () => {
    const job = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, job.id, 'RUNNING');
    await gqlData(server.url, CANCEL, { id: job.id });
    const second = await gqlData(server.url, CANCEL, { id: job.id });
    assert.ok(['ABORTING', 'ABORTED'].includes(second.cancelJob.job.status));
    assert.equal((await waitForEnd(server.url, job.id, 5000)).status, 'ABORTED');
    const unknown = await gql(server.url, CANCEL, { id: 'job_missing' });
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    assert.equal(unknown.data, null);
  });
});

describe('bounded concurrency', () => {
  test('jobs beyond the limit wait QUEUED, run when a slot frees, and can be cancelled while waiting', async () => {
    const a = await submit(server.url, LONG_SQL);
    const b = await submit(server.url, LONG_SQL);
    const c = await submit(server.url, 'select 3');
    const d = await submit(server.url, 'select 4');
    await waitForStatus(server.url, a.id, 'RUNNING');
    await waitForStatus(server.url, b.id, 'RUNNING');
    // A real wait: that c and d stay QUEUED meanwhile (both slots are taken) is what is checked.
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await gqlData(server.url, `{ c: job(id: "${c.id}") { status } d: job(id: "${d.id}") { status } }`);
    assert.deepEqual(waiting, { c: { status: 'QUEUED' }, d: { status: 'QUEUED' } });

    // A waiting job is cancelled without ever reaching the warehouse.
    const cancelledD = await gqlData(server.url, CANCEL, { id: d.id });
    assert.equal(cancelledD.cancelJob.job.status, 'ABORTED');
    assert.equal(cancelledD.cancelJob.job.queryId, null);

    await gqlData(server.url, CANCEL, { id: a.id });
    const endedC = await waitForEnd(server.url, c.id, 5000);
    assert.equal(endedC.status, 'SUCCESS', 'the freed slot runs the next waiting job');
    await gqlData(server.url, CANCEL, { id: b.id });
    assert.equal((await waitForEnd(server.url, b.id, 5000)).status, 'ABORTED');
  });
});

describe('timeoutSeconds', () => {
  test('ends a job that runs too long with FAILED_WITH_ERROR and STATEMENT_TIMEOUT', async () => {
    const job = await submit(server.url, LONG_SQL, { timeoutSeconds: 1 });
    assert.equal(job.timeoutSeconds, 1);
    const ended = await waitForEnd(server.url, job.id, 10_000);
    assert.equal(ended.status, 'FAILED_WITH_ERROR');
    assert.equal(ended.error.code, 'STATEMENT_TIMEOUT');
    const ran = Date.parse(ended.endedAt) - Date.parse(ended.startedAt);
    assert.ok(ran >= 1000 && ran < 3000, `ran ${ran} ms`);
  });
});
