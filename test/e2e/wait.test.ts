/** Hybrid submit: submitQuery(input: {waitMs}) answers with the finished job and its first page. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gql, gqlData, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startServer({ JOBQL_MAX_WAIT_MS: '5000' });
});
after(() => server.stop());

const SUBMIT = `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) {
  job { id status isDone result(first: 2) { rows totalRows pageInfo { hasNextPage } } } } }`;

test('a job that ends within waitMs comes back finished, with its first result page', async () => {
  const data = await gqlData(server.url, SUBMIT, { input: { sql: 'select range from range(5)', waitMs: 5000 } });
  const job = data.submitQuery.job;
  assert.equal(job.status, 'SUCCESS');
  assert.deepEqual(job.result, { rows: [[0], [1]], totalRows: 5, pageInfo: { hasNextPage: true } });
});

test('a failure within waitMs comes back failed', async () => {
  const data = await gqlData(server.url, SUBMIT, { input: { sql: 'select * from missing', waitMs: 5000 } });
  assert.equal(data.submitQuery.job.status, 'FAILED_WITH_ERROR');
  assert.equal(data.submitQuery.job.result, null);
});

test('past waitMs the running job comes back as it is, and goes on', async () => {
  const started = Date.now();
  const data = await gqlData(server.url, SUBMIT, {
    input: { sql: 'select sum(hash(range)) from range(300000000)', waitMs: 300 },
  });
  const elapsed = Date.now() - started;
  const job = data.submitQuery.job;
  assert.ok(['QUEUED', 'RUNNING'].includes(job.status), job.status);
  assert.equal(job.result, null);
  assert.ok(elapsed >= 300 && elapsed < 2000, `answered after ${elapsed} ms`);
  assert.equal((await waitForEnd(server.url, job.id)).status, 'SUCCESS');
});

test('waitMs is capped and checked', async () => {
  const over = await gql(server.url, SUBMIT, { input: { sql: 'select 1', waitMs: 5001 } });
  assert.equal(over.errors?.[0]?.extensions?.code, 'LIMIT_EXCEEDED');
  const negative = await gql(server.url, SUBMIT, { input: { sql: 'select 1', waitMs: -1 } });
  assert.equal(negative.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
});
