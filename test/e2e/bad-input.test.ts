/**
 * Bad input of every kind gets a typed error (extensions.code from the closed set), never a crash,
 * a hang or a 500; the server keeps serving afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { RequestErrorCode } from '../../src/core/errors.ts';
import { collect, gql, type GraphQLResponse, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const CODES = new Set<string>(Object.values(RequestErrorCode));

let server: TestServer;
before(async () => {
  server = await startServer({
    JOBQL_MAX_SQL_LENGTH: '1000',
    JOBQL_MAX_STATEMENTS: '3',
    JOBQL_MAX_BINDINGS: '5',
    JOBQL_MAX_PAGE_SIZE: '50',
    JOBQL_MAX_TIMEOUT_SECONDS: '60',
  });
});
after(() => server.stop());

const SUBMIT = 'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }';

function codeOf(response: GraphQLResponse): string | undefined {
  assert.ok(response.errors?.length, `expected an error, got ${JSON.stringify(response)}`);
  for (const error of response.errors) {
    assert.ok(CODES.has(error.extensions?.code ?? ''), `untyped error ${JSON.stringify(error)}`);
  }
  return response.errors[0]?.extensions?.code;
}

describe('submitQuery input', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['empty SQL', { sql: '' }, 'BAD_USER_INPUT'],
    ['only comments and semicolons', { sql: ' ; -- nothing\n /* here */ ;' }, 'BAD_USER_INPUT'],
    ['SQL over the length limit', { sql: `select '${'x'.repeat(1000)}'` }, 'LIMIT_EXCEEDED'],
    ['more statements than the limit', { sql: 'select 1; select 2; select 3; select 4' }, 'LIMIT_EXCEEDED'],
    ['an object binding', { sql: 'select ?', bindings: [{ a: 1 }] }, 'BAD_USER_INPUT'],
    ['a list binding', { sql: 'select ?', bindings: [[1, 2]] }, 'BAD_USER_INPUT'],
    ['more bindings than the limit', { sql: 'select 1', bindings: [1, 2, 3, 4, 5, 6] }, 'LIMIT_EXCEEDED'],
    ['a zero timeout', { sql: 'select 1', timeoutSeconds: 0 }, 'BAD_USER_INPUT'],
    ['a negative timeout', { sql: 'select 1', timeoutSeconds: -5 }, 'BAD_USER_INPUT'],
    ['a timeout over the limit', { sql: 'select 1', timeoutSeconds: 61 }, 'LIMIT_EXCEEDED'],
    ['a timeout that is not an Int', { sql: 'select 1', timeoutSeconds: 1.5 }, 'BAD_USER_INPUT'],
    ['a tag that is too long', { sql: 'select 1', tag: 't'.repeat(257) }, 'BAD_USER_INPUT'],
    ['sql of the wrong type', { sql: 42 }, 'BAD_USER_INPUT'],
    ['no sql at all', {}, 'BAD_USER_INPUT'],
    ['an unknown input field', { sql: 'select 1', warehouse: 'x' }, 'BAD_USER_INPUT'],
  ];
  for (const [name, input, code] of cases) {
    test(`${name} → ${code}, and no job is recorded`, async () => {
      const before = await gql(server.url, '{ jobs(first: 100) { nodes { id } } }');
      const response = await gql(server.url, SUBMIT, { input });
      assert.equal(codeOf(response), code);
      const afterwards = await gql(server.url, '{ jobs(first: 100) { nodes { id } } }');
      assert.deepEqual(afterwards, before);
    });
  }
});

describe('reading input', () => {
  test('page sizes, cursors and filters are checked', async () => {
    const job = await submit(server.url, 'select range from range(10)');
    await waitForEnd(server.url, job.id);
    const read = (args: string): Promise<GraphQLResponse> =>
      gql(server.url, `{ job(id: "${job.id}") { result(${args}) { rows } } }`);
    assert.equal(codeOf(await read('first: 0')), 'BAD_USER_INPUT');
    assert.equal(codeOf(await read('first: -1')), 'BAD_USER_INPUT');
    assert.equal(codeOf(await read('first: 51')), 'LIMIT_EXCEEDED');
    assert.equal(codeOf(await read('after: "not-a-cursor"')), 'BAD_USER_INPUT');
    const jobCursor = Buffer.from('job:5').toString('base64url');
    assert.equal(codeOf(await read(`after: "${jobCursor}"`)), 'BAD_USER_INPUT', 'a jobs cursor is not a row cursor');
    assert.equal(codeOf(await gql(server.url, '{ jobs(first: 101) { nodes { id } } }')), 'LIMIT_EXCEEDED');
    assert.equal(codeOf(await gql(server.url, '{ jobs(after: "%%%") { nodes { id } } }')), 'BAD_USER_INPUT');
    assert.equal(
      codeOf(await gql(server.url, '{ jobs(filter: {submittedAfter: "last tuesday"}) { nodes { id } } }')),
      'BAD_USER_INPUT',
    );
    assert.equal(codeOf(await gql(server.url, '{ jobs(filter: {status: [DONE]}) { nodes { id } } }')), 'GRAPHQL_VALIDATION_FAILED');
    const past = await gql(server.url, `{ job(id: "${job.id}") { result(after: "${Buffer.from('row:1000').toString('base64url')}") { rows pageInfo { hasNextPage } } } }`);
    assert.deepEqual(past.data, { job: { result: { rows: [], pageInfo: { hasNextPage: false } } } });
  });

  test('unknown ids: job is null, cancelJob and jobStatus are NOT_FOUND', async () => {
    assert.deepEqual((await gql(server.url, '{ job(id: "x") { id } }')).data, { job: null });
    assert.equal(codeOf(await gql(server.url, 'mutation { cancelJob(id: "x") { job { id } } }')), 'NOT_FOUND');
    const client = wsClient(server.wsUrl);
    const { errors } = await collect(client, 'subscription { jobStatus(id: "x") { status } }');
    await client.dispose();
    assert.equal((errors as any)[0].extensions.code, 'NOT_FOUND');
  });
});

describe('malformed requests', () => {
  const post = async (body: string, contentType = 'application/json'): Promise<Response> =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': contentType }, body });

  const requests: [string, () => Promise<Response>, string][] = [
    ['invalid JSON', () => post('{"query": '), 'BAD_REQUEST'],
    ['a JSON array (batching is off)', () => post('[{"query":"{ __typename }"}]'), 'BAD_REQUEST'],
    ['no query', () => post('{}'), 'BAD_REQUEST'],
    ['a query that is not a string', () => post('{"query": 5}'), 'BAD_REQUEST'],
    ['a syntax error', () => post('{"query": "{ job(id: "}'), 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field', () => post('{"query": "{ nope }"}'), 'GRAPHQL_VALIDATION_FAILED'],
    ['a missing required argument', () => post('{"query": "{ job { id } }"}'), 'GRAPHQL_VALIDATION_FAILED'],
    ['a wrong variable type', () => post('{"query": "query($n: Int) { jobs(first: $n) { nodes { id } } }", "variables": {"n": "ten"}}'), 'BAD_USER_INPUT'],
    ['a missing required variable', () => post('{"query": "query($id: ID!) { job(id: $id) { id } }"}'), 'BAD_USER_INPUT'],
    ['variables that are not an object', () => post('{"query": "{ __typename }", "variables": 7}'), 'BAD_REQUEST'],
    ['a mutation over GET', () => fetch(`${server.url}?query=${encodeURIComponent('mutation { cancelJob(id: "x") { job { id } } }')}`), 'BAD_REQUEST'],
    ['a PUT', () => fetch(server.url, { method: 'PUT' }), 'BAD_REQUEST'],
    ['an unknown operation name', () => post('{"query": "query A { __typename }", "operationName": "B"}'), 'OPERATION_RESOLUTION_FAILURE'],
    ['a NUL and lone surrogate', () => post(JSON.stringify({ query: '{ job(id: "\u0000\ud800") { id } }' })), 'none'],
  ];
  for (const [name, send, code] of requests) {
    test(`${name} → ${code === 'none' ? 'a clean answer' : code}, never a 500`, async () => {
      const response = await send();
      assert.ok(response.status < 500, `status ${response.status}`);
      const body = (await response.json()) as GraphQLResponse;
      if (code === 'none') assert.ok(!body.errors || body.errors.every((e) => CODES.has(e.extensions?.code ?? '')));
      else assert.equal(codeOf(body), code);
    });
  }

  test('a request with no document answers 400 like the other malformed ones, over POST and GET', async () => {
    for (const response of [await post('{}'), await post('{"variables":{}}'), await fetch(server.url, { headers: { accept: 'application/json' } })]) {
      assert.equal(response.status, 400);
      assert.equal(codeOf((await response.json()) as GraphQLResponse), 'BAD_REQUEST');
    }
  });

  test('a malformed operation over WebSocket is an error message; the socket stays open', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const bad = await collect(client, 'subscription { jobStatus(id: ');
      assert.equal((bad.errors as any)[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
      const invalid = await collect(client, 'subscription { jobStatus(id: "x") { nope } }');
      assert.equal((invalid.errors as any)[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
      const job = await submit(server.url, 'select 1');
      const ok = await collect(client, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', { id: job.id });
      assert.equal(ok.events.at(-1).jobStatus.status, 'SUCCESS');
    } finally {
      await client.dispose();
    }
  });

  test('an oversized WebSocket frame closes only that socket (1009)', async () => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(1_100_000) } }));
    assert.equal(await closed, 1009);
    assert.equal((await gql(server.url, '{ __typename }')).data?.['__typename'], 'Query');
  });

  test('the server is still healthy after all of the above', async () => {
    const health = await fetch(server.url.replace('/graphql', '/healthz'));
    assert.equal(health.status, 200);
  });
});
