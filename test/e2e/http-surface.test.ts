/** One port serves GraphQL over POST and GET, GraphiQL, graphql-ws, SSE, /healthz and /readyz. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let base: string;
before(async () => {
  server = await startServer();
  base = server.url.replace('/graphql', '');
});
after(() => server.stop());

test('GET /healthz and /readyz answer 200 while serving', async () => {
  for (const route of ['/healthz', '/readyz']) {
    const response = await fetch(base + route);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  }
});

test('queries work over GET', async () => {
  const job = await submit(server.url, 'select 1');
  await waitForEnd(server.url, job.id);
  const query = encodeURIComponent(`{ job(id: "${job.id}") { status } }`);
  const response = await fetch(`${server.url}?query=${query}`);
  assert.deepEqual(await response.json(), { data: { job: { status: 'SUCCESS' } } });
});

test('a browser gets GraphiQL, set up for subscriptions over WebSocket', async () => {
  const response = await fetch(server.url, { headers: { accept: 'text/html' } });
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /<title>jobql GraphiQL<\/title>/);
  assert.match(html, /"subscriptionsProtocol":"WS"/);
});

test('GraphiQL can be switched off', async () => {
  const quiet = await startServer({ JOBQL_GRAPHIQL: 'false' });
  try {
    const response = await fetch(quiet.url, { headers: { accept: 'text/html' } });
    assert.notEqual(response.headers.get('content-type'), 'text/html');
  } finally {
    await quiet.stop();
  }
});
