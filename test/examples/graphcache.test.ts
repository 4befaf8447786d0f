/**
 * The Graphcache configuration the README documents (examples/urql/graphcache.ts), against a real
 * server: result pages and jobs normalize by id, `jobs` pages merge, a subscription's events update
 * the cached job, and Graphcache warns about nothing (it warns in development, as here).
 */
import assert from 'node:assert/strict';
import { format } from 'node:util';
import { after, before, mock, test } from 'node:test';
import { gql } from '@urql/core';
import { createJobqlClient, type Jobql } from '../../examples/urql/client.ts';
import { jobqlGraphcache } from '../../examples/urql/graphcache.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const SUBMIT = gql`
  mutation ($sql: String!, $tag: String) {
    submitQuery(input: { sql: $sql, tag: $tag, waitMs: 5000 }) {
      job { id status }
    }
  }
`;
const PAGE = gql`
  query ($id: ID!, $after: String) {
    job(id: $id) {
      id
      status
      result(first: 100, after: $after) { id columns { name type } rows pageInfo { hasNextPage endCursor } }
      downloads { csv expiresAt }
      error { code message }
      dml { rowsInserted }
    }
  }
`;
const PAGE_NAMES_ONLY = gql`
  query ($id: ID!) {
    job(id: $id) { id result(first: 100) { id columns { name } totalRows } }
  }
`;
const JOBS = gql`
  query ($tag: String, $after: String) {
    jobs(first: 2, after: $after, filter: { tag: $tag }) {
      edges { cursor node { id status } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const FOLLOW = gql`
  subscription ($id: ID!) {
    jobStatus(id: $id) { sequence status job { id status } }
  }
`;

let server: TestServer;
let urql: Jobql;
const warnings: string[] = [];
before(async () => {
  server = await startServer();
  urql = createJobqlClient(server.url, undefined, jobqlGraphcache);
  for (const level of ['warn', 'error'] as const) mock.method(console, level, (...args: unknown[]) => warnings.push(format(...args)));
});
after(async () => {
  mock.restoreAll();
  await urql?.dispose();
  await server?.stop();
});

test('pages, job lists and live events through Graphcache, with no warning', async () => {
  const tag = `graphcache-${Date.now()}`;
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { data, error } = await urql.client.mutation(SUBMIT, { sql: `select range as n from range(${150 + i})`, tag }).toPromise();
    assert.equal(error, undefined);
    ids.push(data.submitQuery.job.id);
  }
  const id = ids[0]!;

  const first = await urql.client.query(PAGE, { id }).toPromise();
  assert.equal(first.error, undefined);
  const page = first.data.job.result;
  assert.equal(page.rows.length, 100);
  assert.match(page.id, new RegExp(`^${id}:0:100$`));
  const second = await urql.client.query(PAGE, { id, after: page.pageInfo.endCursor }).toPromise();
  assert.equal(second.data.job.result.rows.length, 50);

  // Another selection of the same page: answered, and the first selection's fields are kept.
  const names = await urql.client.query(PAGE_NAMES_ONLY, { id }).toPromise();
  assert.deepEqual(names.data.job.result.columns.map((c: { name: string }) => c.name), ['n']);
  const again = await urql.client.query(PAGE, { id }, { requestPolicy: 'cache-only' }).toPromise();
  assert.equal(again.data.job.result.columns[0].type, 'BIGINT', 'served from the cache, fields intact');

  // Pages of the same list merge: the second page's query returns the first page's edges too.
  const one = await urql.client.query(JOBS, { tag }).toPromise();
  assert.equal(one.data.jobs.edges.length, 2);
  const two = await urql.client.query(JOBS, { tag, after: one.data.jobs.pageInfo.endCursor }).toPromise();
  assert.deepEqual(
    two.data.jobs.edges.map((e: { node: { id: string } }) => e.node.id).sort(),
    [...ids].sort(),
  );

  // A subscription's events update the cached Job that every query reads.
  const long = await urql.client.mutation(SUBMIT, { sql: 'select sum(hash(range)) from range(10000000000)', tag: `${tag}-long` }).toPromise();
  const longId = long.data.submitQuery.job.id as string;
  const ended = new Promise<void>((resolve) => {
    const { unsubscribe } = urql.client.subscription(FOLLOW, { id: longId }).subscribe((result) => {
      const status = result.data?.jobStatus.status;
      if (status === 'RUNNING') void urql.client.mutation(gql`mutation ($id: ID!) { cancelJob(id: $id) { job { id status } } }`, { id: longId }).toPromise();
      if (status === 'ABORTED') {
        unsubscribe();
        resolve();
      }
    });
  });
  await ended;
  const cached = await urql.client.query(gql`query ($id: ID!) { job(id: $id) { id status } }`, { id: longId }, { requestPolicy: 'cache-only' }).toPromise();
  assert.equal(cached.data.job.status, 'ABORTED');

  assert.deepEqual(warnings, [], 'Graphcache warned');
});

test('control: Graphcache without those keys does warn on the same query (so the check above can fail)', async () => {
  const { cacheExchange } = await import('@urql/exchange-graphcache');
  const bare = createJobqlClient(server.url, undefined, cacheExchange({}));
  try {
    const { data } = await bare.client.mutation(SUBMIT, { sql: 'select 1 as one', tag: 'graphcache-control' }).toPromise();
    warnings.length = 0;
    await bare.client.query(PAGE, { id: data.submitQuery.job.id }).toPromise();
    assert.ok(warnings.some((w) => /key/i.test(w)), `no warning: ${JSON.stringify(warnings)}`);
  } finally {
    await bare.dispose();
  }
});
