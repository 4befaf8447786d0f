/**
 * Two apps in one process share nothing: one app's subscriptions, shared-execution counts,
 * metrics and bus listeners do not show in the other's (no module-level state in the server).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from 'graphql-ws';
import { gqlData, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const LONG = 'select sum(hash(range)) from range(10000000000)';
const STATUS = 'subscription($id: ID!) { jobStatus(id: $id) { status sequence } }';

let a: TestServer;
let b: TestServer;
before(async () => {
  [a, b] = await Promise.all([startServer(), startServer()]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function subscriptionsGauge(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('jobql_subscriptions '));
  assert.ok(line, 'jobql_subscriptions is exported');
  return Number(line.split(' ')[1]);
}

function follow(client: Client, id: string): { first: Promise<void>; end: Promise<void> } {
  let first: () => void = () => {};
  const firstSeen = new Promise<void>((resolve) => (first = resolve));
  const end = new Promise<void>((resolve, reject) => {
    client.subscribe({ query: STATUS, variables: { id } }, { next: () => first(), error: reject, complete: resolve });
  });
  return { first: firstSeen, end };
}

test("one app's subscriptions and counts do not appear in another app in the same process", async () => {
  const job = await submit(a.url, LONG);
  await waitForStatus(a.url, job.id, 'RUNNING', 20_000);
  const client = wsClient(a.wsUrl);
  try {
    const followed = follow(client, job.id);
    await followed.first;
    assert.equal(a.app.executionStats.subscriptions, 1);
    assert.equal(a.app.executionStats.selections, 1);
    assert.deepEqual({ ...b.app.executionStats }, { executions: 0, reused: 0, subscriptions: 0, selections: 0 });
    assert.equal(await subscriptionsGauge(a), 1);
    assert.equal(await subscriptionsGauge(b), 0);
    assert.equal(b.app.bus.listenerCount(), 0);
    assert.equal(b.app.sockets(), 0);
    // The other app's job store does not know the job either.
    assert.equal((await gqlData(b.url, 'query($id: ID!) { job(id: $id) { id } }', { id: job.id })).job, null);

    await gqlData(a.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: job.id });
    await waitForEnd(a.url, job.id, 20_000);
    await followed.end;
    await waitFor(() => a.app.executionStats.selections === 0 && a.app.executionStats.subscriptions === 0, { timeoutMs: 5000, what: 'the subscription to close' });
    assert.ok(a.app.executionStats.executions >= 2, 'the transitions were executed on the app that had the subscriber');
    assert.deepEqual({ ...b.app.executionStats }, { executions: 0, reused: 0, subscriptions: 0, selections: 0 });
  } finally {
    await client.dispose();
  }
});
