// First: Apollo Client reads globalThis.__DEV__ when it loads, and warns only in development.
import './apollo-dev.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { format } from 'node:util';
import { after, before, describe, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApolloClient, type DocumentNode, gql, HttpLink, InMemoryCache, type TypedDocumentNode } from '@apollo/client';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { __DEV__ } from '@apollo/client/utilities/environment';
import { createJobqlClient as createApollo, type Jobql as ApolloJobql } from '../../examples/apollo-client/client.ts';
import { run as runApollo } from '../../examples/apollo-client/main.ts';
import { ResultPageQuery, SubmitQuery } from '../../examples/apollo-client/operations.ts';
import { run as runSse } from '../../examples/sse/main.ts';
import { createJobqlClient as createUrql } from '../../examples/urql/client.ts';
import { run as runUrql } from '../../examples/urql/main.ts';
import { newApiKey } from '../helpers/auth.ts';
import { within } from '../helpers/wait-for.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

loadDevMessages();
loadErrorMessages();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Event {
  sequence: number;
  status: string;
}

/** The `sequence status` lines of a part of a run's output. */
function events(lines: readonly string[]): Event[] {
  return lines.flatMap((line) => {
    const match = /^(\d+) ([A-Z_]+)$/.exec(line);
    return match ? [{ sequence: Number(match[1]), status: match[2] ?? '' }] : [];
  });
}

/** Asserts that `seen` is `order` with some states left out, each once, in order, with growing sequences. */
function assertInOrder(seen: readonly Event[], order: readonly string[]): void {
  let at = -1;
  let sequence = 0;
  for (const event of seen) {
    const index = order.indexOf(event.status);
    assert.ok(index > at, `${event.status} out of order in ${JSON.stringify(seen)}`);
    assert.ok(event.sequence > sequence, `sequence ${event.sequence} does not grow in ${JSON.stringify(seen)}`);
    at = index;
    sequence = event.sequence;
  }
}

/**
 * Checks one run's output: the quick job's states are QUEUED 1, RUNNING 2, SUCCESS 3 or their
 * tail (a quick job subscribed to after submitting may already run or be done: README), its 250
 * rows came in 3 pages when the example reads them, and the long job was cancelled once it ran
 * and ended ABORTED.
 */
function assertFlow(lines: readonly string[], options: { pages: boolean }): void {
  const second = lines.findLastIndex((line) => line.startsWith('submitted '));
  assert.ok(lines[0]?.startsWith('submitted ') && second > 0, lines.join('\n'));
  const quick = lines.slice(0, second);
  const long = lines.slice(second);

  const quickEvents = events(quick);
  assert.ok(quickEvents.length > 0, quick.join('\n'));
  const order = ['QUEUED', 'RUNNING', 'SUCCESS'];
  for (const event of quickEvents) assert.equal(event.sequence, order.indexOf(event.status) + 1, quick.join('\n'));
  assertInOrder(quickEvents, order);
  assert.deepEqual(quickEvents.at(-1), { sequence: 3, status: 'SUCCESS' });
  if (options.pages) {
    assert.deepEqual(
      quick.filter((line) => /^page \d/.test(line)),
      ['page 1: 100 rows', 'page 2: 100 rows', 'page 3: 50 rows'],
    );
    assert.ok(quick.includes('250 rows in 3 pages'), quick.join('\n'));
  }

  const longEvents = events(long);
  assertInOrder(longEvents, ['QUEUED', 'RUNNING', 'ABORTING', 'ABORTED']);
  assert.equal(longEvents.at(-1)?.status, 'ABORTED', long.join('\n'));
  const running = long.findIndex((line) => / RUNNING$/.test(line));
  const cancelling = long.findIndex((line) => line.startsWith('cancelling '));
  assert.ok(running > 0 && cancelling > running, `cancelled after RUNNING:\n${long.join('\n')}`);
}

function recorder(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => void lines.push(line) };
}

/** Every console.warn and console.error while `body` runs. */
async function consoleCalls(body: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const record = (...args: unknown[]): void => void calls.push(format(...args));
  const warn = mock.method(console, 'warn', record);
  const error = mock.method(console, 'error', record);
  try {
    await body();
  } finally {
    warn.mock.restore();
    error.mock.restore();
  }
  return calls;
}

// Queries that select different fields of objects the run already cached: the ones that make an
// InMemoryCache without jobql's typePolicies warn "Cache data may be lost when replacing ...".
const PAGE_META = gql`
  query PageMeta($id: ID!) {
    job(id: $id) { id result(first: 100) { id totalRows truncated columns { name type } pageInfo { hasNextPage } } }
  }
`;
const PAGE_COLUMN_NAMES = gql`
  query PageColumnNames($id: ID!) {
    job(id: $id) { id result(first: 100) { id columns { name } } }
  }
`;
const DOWNLOADS_CSV = gql`
  query DownloadsCsv($id: ID!) {
    job(id: $id) { id downloads { csv ndjson } }
  }
`;
const DOWNLOADS_PARQUET = gql`
  query DownloadsParquet($id: ID!) {
    job(id: $id) { id downloads { parquet } }
  }
`;
const ERROR_CODE = gql`
  query ErrorCode($id: ID!) {
    job(id: $id) { id error { code message } }
  }
`;
const ERROR_SQLSTATE = gql`
  query ErrorSqlState($id: ID!) {
    job(id: $id) { id error { sqlState } }
  }
`;
const SUBMIT_DML = gql`
  mutation SubmitDml($sql: String!) {
    submitQuery(input: { sql: $sql, waitMs: 10000 }) { job { id status dml { rowsInserted } } }
  }
`;
const DML_DELETED = gql`
  query DmlDeleted($id: ID!) {
    job(id: $id) { id dml { rowsDeleted rowsUpdated } }
  }
`;
const JOB_STATUS_ONLY: TypedDocumentNode<{ job: { id: string; status: string } | null }, { id: string }> = gql`
  query JobStatusOnly($id: ID!) {
    job(id: $id) { id status }
  }
`;
const JOBS_PAGE = gql`
  query JobsPage($after: String, $filter: JobFilter) {
    jobs(first: 1, after: $after, filter: $filter) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } }
  }
`;

/**
 * Writes the same page, job error, downloads and DML counts with different selections, as a
 * frontend's views would. Returns the id of the DML job it submits.
 */
async function provoke(client: ApolloClient, jobId: string, longJobId: string): Promise<string> {
  const query = async (document: DocumentNode, variables: Record<string, unknown>): Promise<unknown> =>
    (await client.query({ query: document, variables, fetchPolicy: 'network-only' })).data;
  await query(ResultPageQuery, { id: jobId, first: 100 });
  await query(PAGE_META, { id: jobId });
  await query(PAGE_COLUMN_NAMES, { id: jobId });
  await query(DOWNLOADS_CSV, { id: jobId });
  await query(DOWNLOADS_PARQUET, { id: jobId });
  await query(ERROR_CODE, { id: longJobId });
  await query(ERROR_SQLSTATE, { id: longJobId });
  const sql = 'create or replace table example_dml as select range as n from range(3); delete from example_dml where n = 0';
  const dml = await client.mutate<{ submitQuery: { job: { id: string; status: string } } }>({ mutation: SUBMIT_DML, variables: { sql } });
  assert.equal(dml.data?.submitQuery.job.status, 'SUCCESS');
  const dmlJobId = dml.data?.submitQuery.job.id ?? '';
  await query(DML_DELETED, { id: dmlJobId });
  return dmlJobId;
}

describe('the client examples against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  test("Apollo Client: the flow, a normalized cache of jobs, pages and lists, and none of Apollo's warnings", async () => {
    assert.equal(__DEV__, true, "Apollo's development checks are on");
    const { lines, log } = recorder();
    const jobql: ApolloJobql = createApollo(server.url);
    let ids = { jobId: '', longJobId: '' };
    const calls = await consoleCalls(async () => {
      ids = await runApollo(server.url, log, jobql);
      assertFlow(lines, { pages: true });

      // Both jobs and every page are entities of their own, the pages referenced from the job.
      const cache = jobql.client.cache.extract() as Record<string, Record<string, unknown>>;
      assert.ok(cache[`Job:${ids.jobId}`], Object.keys(cache).join(', '));
      assert.equal(cache[`Job:${ids.longJobId}`]?.['status'], 'ABORTED', 'the subscription events updated the job');
      const pages = Object.keys(cache).filter((key) => key.startsWith('ResultPage:'));
      assert.equal(pages.length, 3, pages.join(', '));
      const referenced = Object.values(cache[`Job:${ids.jobId}`] ?? {}).flatMap((value) =>
        typeof value === 'object' && value !== null && '__ref' in value ? [String(value.__ref)] : [],
      );
      assert.deepEqual([...new Set(referenced)].sort(), pages.sort());

      // `job(id)` of a job the server does not know is null (the cache redirect to Job:<id> steps aside).
      const unknown = await jobql.client.query({ query: ResultPageQuery, variables: { id: 'job_00000000000000000000000000000000', first: 1 } });
      assert.equal(unknown.data?.job, null);

      // A page read again comes from the cache.
      const second = jobql.client.readQuery({ query: ResultPageQuery, variables: { id: ids.jobId, first: 100, after: null } });
      assert.equal(second?.job?.result?.rows.length, 100);

      // Different selections of the same page, downloads and error: merged, no warning, nothing lost.
      const dmlJobId = await provoke(jobql.client, ids.jobId, ids.longJobId);
      const meta = jobql.client.readQuery<{ job: { result: { columns: { name: string; type: string }[] } } }>({
        query: PAGE_META,
        variables: { id: ids.jobId },
      });
      assert.deepEqual(meta?.job.result.columns.map(({ name, type }) => ({ name, type })), [{ name: 'n', type: 'BIGINT' }]);
      assert.ok(jobql.client.readQuery({ query: ResultPageQuery, variables: { id: ids.jobId, first: 100 } }), 'the first page is still whole');
      assert.ok(jobql.client.readQuery({ query: ERROR_CODE, variables: { id: ids.longJobId } }), 'the error keeps code and message');
      assert.ok(jobql.client.readQuery({ query: DOWNLOADS_CSV, variables: { id: ids.jobId } }), 'the downloads keep csv');

      // `jobs` pages of one filter merge into one list; another filter is a list of its own.
      type Jobs = { jobs: { edges: { node: { id: string } }[]; pageInfo: { endCursor: string | null } } };
      // The next page through fetchMore (a cache-first query with `after` would be answered from
      // the merged list): a view watching the list sees it grow.
      const list = jobql.client.watchQuery<Jobs>({ query: JOBS_PAGE, variables: {} });
      const grown = Promise.withResolvers<void>();
      const watching = list.subscribe(({ data }) => data?.jobs?.edges?.length === 2 && grown.resolve());
      const first = await list.refetch();
      assert.equal(first.data?.jobs.edges.length, 1);
      await list.fetchMore({ variables: { after: first.data?.jobs.pageInfo.endCursor } });
      await within(grown.promise, { timeoutMs: 5000, what: 'the watched list to show both pages' });
      watching.unsubscribe();
      await jobql.client.query<Jobs>({ query: JOBS_PAGE, variables: { filter: { status: ['ABORTED'] } } });
      const root = (jobql.client.cache.extract() as Record<string, Record<string, unknown>>)['ROOT_QUERY'] ?? {};
      const lists = Object.keys(root).filter((key) => key.startsWith('jobs'));
      assert.deepEqual(lists.sort(), ['jobs:{"filter":{"status":["ABORTED"]}}', 'jobs:{}']);
      const merged = jobql.client.readQuery<Jobs>({ query: JOBS_PAGE, variables: {} });
      assert.deepEqual(
        merged?.jobs.edges.map((edge) => edge.node.id),
        [dmlJobId, ids.longJobId],
        'both pages of the list, newest first',
      );

      // A new job: evicting `jobs` drops every cached list (they are fetched again when read).
      const submitted = await jobql.client.mutate({
        mutation: SubmitQuery,
        variables: { sql: 'select 1' },
        update: (cache) => void cache.evict({ fieldName: 'jobs' }),
      });
      const after = (jobql.client.cache.extract() as Record<string, Record<string, unknown>>)['ROOT_QUERY'] ?? {};
      assert.deepEqual(Object.keys(after).filter((key) => key.startsWith('jobs')), []);
      // ... and `job(id)` of the new job is answered from the cache at once: Job:<id> is there.
      const newId = submitted.data?.submitQuery.job.id ?? '';
      const cached = jobql.client.readQuery({ query: JOB_STATUS_ONLY, variables: { id: newId } });
      assert.equal(cached?.job?.id, newId);
    });
    await jobql.dispose();
    assert.deepEqual(calls, [], 'Apollo Client printed nothing');
  });

  // After the test above: Apollo warns about each type and field once per process.
  test('an InMemoryCache without the typePolicies does warn on the same queries (the check above can fail)', async () => {
    const { jobId, longJobId } = await runApollo(server.url, () => {});
    const client = new ApolloClient({ link: new HttpLink({ uri: server.url }), cache: new InMemoryCache() });
    const calls = await consoleCalls(async () => void (await provoke(client, jobId, longJobId)));
    client.stop();
    const lost = calls.filter((call) => call.startsWith('Cache data may be lost'));
    for (const field of ['pageInfo field of a ResultPage', 'downloads field of a Job', 'error field of a Job', 'dml field of a Job']) {
      assert.ok(lost.some((call) => call.includes(`replacing the ${field} object`)), `${field}: ${calls.join('\n---\n')}`);
    }
  });

  test('urql: the flow, and the terminal event it repeats on completion dropped by sequence', async () => {
    const { lines, log } = recorder();
    await runUrql(server.url, log);
    assertFlow(
      lines.filter((line) => !line.startsWith('(repeat')),
      { pages: true },
    );
    // urql hands the last result over again when the subscription completes (hasNext: false).
    for (const terminal of ['SUCCESS', 'ABORTED']) {
      const at = lines.findIndex((line) => line.endsWith(` ${terminal}`));
      const sequence = lines[at]?.split(' ')[0];
      assert.equal(lines[at + 1], `(repeat of ${sequence} dropped)`, lines.join('\n'));
    }
  });

  test('Server-Sent Events with graphql-sse: the flow', async () => {
    const { lines, log } = recorder();
    await runSse(server.url, log);
    assertFlow(lines, { pages: false });
  });
});

describe('the client examples with authentication on', () => {
  const key = newApiKey('frontend', false);
  let server: TestServer;
  before(async () => {
    server = await startServer({ JOBQL_API_KEYS: key.entry });
  });
  after(async () => {
    await server.stop();
  });

  test('each example sends the token on HTTP, in connectionParams and on the event stream', async () => {
    const apollo = recorder();
    const jobql = createApollo(server.url, key.key);
    await runApollo(server.url, apollo.log, jobql);
    await jobql.dispose();
    assertFlow(apollo.lines, { pages: true });

    const urql = recorder();
    const urqlClient = createUrql(server.url, key.key);
    await runUrql(server.url, urql.log, urqlClient);
    await urqlClient.dispose();
    assertFlow(urql.lines.filter((line) => !line.startsWith('(repeat')), { pages: true });

    const sse = recorder();
    await runSse(server.url, sse.log, key.key);
    assertFlow(sse.lines, { pages: false });
  });

  test('without a token every example fails', async () => {
    const none = createApollo(server.url, '');
    await assert.rejects(runApollo(server.url, () => {}, none), /Authentication required/);
    await none.dispose();
    const noneUrql = createUrql(server.url, '');
    await assert.rejects(runUrql(server.url, () => {}, noneUrql), /Authentication required/);
    await noneUrql.dispose();
    await assert.rejects(runSse(server.url, () => {}, ''), /HTTP 401/);
  });

  test('as scripts: the token from JOBQL_TOKEN, exit 0; a failure exits non-zero', async () => {
    const script = (name: string, token: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'examples', name, 'main.ts'), server.url], {
          env: { ...process.env, JOBQL_TOKEN: token },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const ok = await script('apollo-client', key.key);
    assert.equal(ok.code, 0, ok.stderr);
    assertFlow(ok.stdout.trim().split('\n'), { pages: true });
    const refused = await script('urql', '');
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /Authentication required/);
  });
});
