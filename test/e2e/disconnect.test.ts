/** A client that goes away does not cancel its job: only cancelJob does. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { gql, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SLOW = 'select max(hash(i)) as n from range(300000000) t(i)';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.stop());

describe('client disconnects', () => {
  test('an HTTP client that aborts a waiting submitQuery: the job still runs to SUCCESS', async () => {
    const controller = new AbortController();
    const request = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation { submitQuery(input: {sql: "' + SLOW + '", tag: "aborted-http", waitMs: 20000}) { job { id } } }',
      }),
      signal: controller.signal,
    });
    // Abort once the job is recorded: the request is then waiting for it to end (waitMs).
    const id = await waitFor(
      async () => {
        const listed = await gql(server.url, '{ jobs(filter: {tag: "aborted-http"}) { nodes { id } } }');
        return listed.data?.jobs.nodes[0]?.id as string | undefined;
      },
      { timeoutMs: 10_000, what: 'the job to be recorded' },
    );
    controller.abort();
    await assert.rejects(request);
    assert.equal((await waitForEnd(server.url, id)).status, 'SUCCESS');
  });

  test('a WebSocket subscriber that drops its connection mid-job: the job still ends SUCCESS', async () => {
    const job = await submit(server.url, SLOW);
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await new Promise((r) => socket.once('open', r));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await new Promise((r) => socket.once('message', r));
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'subscription($id: ID!) { jobStatus(id: $id) { status } }', variables: { id: job.id } },
      }),
    );
    await new Promise((r) => socket.once('message', r));
    socket.terminate(); // no close frame: as when a laptop lid shuts
    assert.equal((await waitForEnd(server.url, job.id)).status, 'SUCCESS');
  });
});
