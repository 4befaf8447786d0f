/**
 * The live parts of a job through a real server and real clients (HTTP, graphql-ws): its place in
 * line (`queuePosition`, `queueReason`, QUEUE_POSITION events), its times (`queuedSeconds`,
 * `elapsedSeconds`), and the unwatched-job cancel (`cancelIfUnwatchedSeconds`, JOB_UNWATCHED).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobStatusEvent } from '../../src/core/job.ts';
import { newApiKey } from '../../src/auth/api-keys.ts';
import { collecting, gql, gqlData, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor, within } from '../helpers/wait-for.ts';

/** Runs until cancelled (minutes on two cores). */
const LONG = 'select sum(hash(range)) from range(10000000000)';
const PLACE = `query($id: ID!) { job(id: $id) { id status queuePosition queueReason queuedSeconds elapsedSeconds } }`;

async function place(url: string, id: string, token?: string): Promise<{ status: string; queuePosition: number | null; queueReason: string | null; queuedSeconds: number; elapsedSeconds: number | null }> {
  return (await gqlData(url, PLACE, { id }, token)).job;
}

async function cancel(url: string, id: string, token?: string): Promise<void> {
  await gqlData(url, `mutation($id: ID!) { cancelJob(id: $id) { job { id } } }`, { id }, token);
}

/** The bus's events of one job from now on: read in process, so they watch nothing. */
function busEvents(server: TestServer, jobId: string): { events: JobStatusEvent[]; ended: Promise<JobStatusEvent>; stop: () => void } {
  const stream = server.app.bus.subscribe(jobId);
  const events: JobStatusEvent[] = [];
  const ended = (async () => {
    for await (const event of stream) {
      events.push(event);
      if (event.job.endedAt) return event;
    }
    throw new Error('the bus stream ended first');
  })();
  ended.catch(() => {}); // a stream stopped before the end: only a test that awaits it cares
  return { events, ended, stop: () => void stream.return?.() };
}

describe('queue position', () => {
  const alice = newApiKey('alice', false);
  const bob = newApiKey('bob', false);
  let server: TestServer;
  before(async () => {
    server = await startServer({
      JOBQL_API_KEYS: `${alice.entry},${bob.entry}`,
      JOBQL_MAX_CONCURRENT_JOBS: '2',
      JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: '1',
    });
  });
  after(() => server.stop());

  test('a waiting job says where it stands and why; a running one has no place; its times add up', async () => {
    const a1 = await submit(server.url, LONG, {}, alice.key);
    await waitForStatus(server.url, a1.id, 'RUNNING', 30_000, alice.key);
    // alice holds her one slot: her next job waits for her, not for the server.
    const a2 = await submit(server.url, LONG, {}, alice.key);
    const a3 = await submit(server.url, LONG, {}, alice.key);
    assert.deepEqual([(await place(server.url, a2.id, alice.key)).queuePosition, (await place(server.url, a2.id, alice.key)).queueReason], [1, 'PRINCIPAL_LIMIT']);
    assert.deepEqual([(await place(server.url, a3.id, alice.key)).queuePosition, (await place(server.url, a3.id, alice.key)).queueReason], [2, 'PRINCIPAL_LIMIT']);
    // bob is passed alice's waiting jobs: he takes the second slot at once.
    const b1 = await submit(server.url, LONG, {}, bob.key);
    await waitForStatus(server.url, b1.id, 'RUNNING', 30_000, bob.key);
    const running = await place(server.url, b1.id, bob.key);
    assert.equal(running.queuePosition, null);
    assert.equal(running.queueReason, null);
    assert.ok(running.elapsedSeconds !== null && running.elapsedSeconds >= 0, JSON.stringify(running));
    assert.ok(running.queuedSeconds >= 0 && running.queuedSeconds < 30, JSON.stringify(running));
    // Now every slot is taken: bob's next job waits for the server, behind nobody of his.
    const b2 = await submit(server.url, LONG, {}, bob.key);
    const waiting = await place(server.url, b2.id, bob.key);
    assert.equal(waiting.status, 'QUEUED');
    assert.equal(waiting.elapsedSeconds, null);
    // bob holds his share too now: his job waits behind his own older waiting jobs only.
    assert.deepEqual([waiting.queuePosition, waiting.queueReason], [1, 'PRINCIPAL_LIMIT']);

    // The line moves when alice's running job ends: subscribers of a3 hear it.
    const client = wsClient(server.wsUrl, alice.key);
    try {
      const follow = collecting<{ jobStatus: { kind: string; sequence: number; status: string; job: { queuePosition: number | null } } }>(
        client,
        `subscription($id: ID!) { jobStatus(id: $id) { kind sequence status job { queuePosition } } }`,
        { id: a3.id },
      );
      await follow.first;
      const bus = busEvents(server, a3.id);
      await cancel(server.url, a1.id, alice.key);
      await waitForStatus(server.url, a2.id, 'RUNNING', 30_000, alice.key);
      await waitFor(async () => (await place(server.url, a3.id, alice.key)).queuePosition === 1, { timeoutMs: 10_000, what: 'a3 to be first in line' });
      // The line's moves are published at most every 250 ms: wait for the one that says so.
      await waitFor(() => bus.events.some((e) => e.kind === 'QUEUE_POSITION' && e.job.queue?.position === 1), {
        timeoutMs: 5000,
        what: 'the QUEUE_POSITION event of a3',
      });
      bus.stop();
      await cancel(server.url, a3.id, alice.key);
      const { events, errors } = await within(follow.result, { timeoutMs: 30_000, what: 'the subscription of a3 to end' });
      assert.equal(errors, null);
      const seen = events.map((e) => e.jobStatus);
      assert.deepEqual(seen[0], { kind: 'TRANSITION', sequence: 1, status: 'QUEUED', job: { queuePosition: 2 } });
      const moves = seen.filter((e) => e.kind === 'QUEUE_POSITION');
      assert.ok(moves.length >= 1, `QUEUE_POSITION events: ${JSON.stringify(seen)}`);
      for (const e of moves) assert.deepEqual([e.sequence, e.status], [1, 'QUEUED'], 'a move is no transition');
      assert.equal(moves.at(-1)?.job.queuePosition, 1);
      assert.equal(seen.at(-1)?.status, 'ABORTED');
    } finally {
      await client.dispose();
      for (const [id, key] of [[a2.id, alice.key], [b1.id, bob.key], [b2.id, bob.key]] as const) await cancel(server.url, id, key);
    }
  });
});

describe('the unwatched-job cancel', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  test('a job nobody watches for its cancelIfUnwatchedSeconds ends ABORTED with JOB_UNWATCHED, and says so', async () => {
    const job = await submit(server.url, LONG, { cancelIfUnwatchedSeconds: 2 });
    assert.equal(job.status, 'QUEUED');
    const bus = busEvents(server, job.id);
    const end = await within(bus.ended, { timeoutMs: 15_000, what: 'the unwatched job to be cancelled' });
    bus.stop();
    assert.equal(end.status, 'ABORTED');
    assert.equal(end.job.error?.code, 'JOB_UNWATCHED');
    const waited = (end.job.endedAt!.getTime() - end.job.submittedAt.getTime()) / 1000;
    assert.ok(waited >= 2 && waited < 6, `cancelled ${waited} s after its submission`);
    const read = await gqlData(server.url, `query($id: ID!) { job(id: $id) { status cancelIfUnwatchedSeconds error { code message } } }`, { id: job.id });
    assert.equal(read.job.cancelIfUnwatchedSeconds, 2);
    assert.match(read.job.error.message, /Nobody watched this job for 2 seconds/);
  });

  test('an open subscriber keeps it; once it leaves, the job is cancelled', async () => {
    const job = await submit(server.url, LONG, { cancelIfUnwatchedSeconds: 2 });
    const bus = busEvents(server, job.id);
    const client = wsClient(server.wsUrl);
    const watching = collecting(client, `subscription($id: ID!) { jobStatus(id: $id) { status } }`, { id: job.id });
    await watching.first;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.ok(!bus.events.some((e) => e.job.endedAt), `still running while watched: ${JSON.stringify(bus.events.map((e) => e.status))}`);
    const left = Date.now();
    await client.dispose();
    const end = await within(bus.ended, { timeoutMs: 15_000, what: 'the job to be cancelled once unwatched' });
    bus.stop();
    assert.equal(end.job.error?.code, 'JOB_UNWATCHED');
    const after = (end.job.endedAt!.getTime() - left) / 1000;
    assert.ok(after >= 1.5 && after < 6, `cancelled ${after} s after its subscriber left`);
  });

  test('reads keep it too; without the setting nothing is cancelled; 0 turns the server default off', async () => {
    const read = await submit(server.url, LONG, { cancelIfUnwatchedSeconds: 2 });
    const plain = await submit(server.url, LONG);
    const started = Date.now();
    while (Date.now() - started < 5000) {
      assert.equal((await place(server.url, read.id)).status === 'ABORTED', false, 'a job read every 500 ms is watched');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const other = await gqlData(server.url, `query($id: ID!) { job(id: $id) { status error { code } } }`, { id: plain.id });
    assert.equal(other.job.error, null);
    for (const id of [read.id, plain.id]) await cancel(server.url, id);
    const ended = await waitForEnd(server.url, read.id, 30_000, 'id status isTerminal error { code }');
    assert.equal(ended.error.code, 'QUERY_CANCELLED', 'a cancel by hand says so, not JOB_UNWATCHED');

    const withDefault = await startServer({ JOBQL_CANCEL_IF_UNWATCHED_SECONDS: '600' });
    try {
      const defaulted = await gqlData(withDefault.url, `mutation { submitQuery(input: { sql: "select 1" }) { job { cancelIfUnwatchedSeconds } } }`);
      assert.equal(defaulted.submitQuery.job.cancelIfUnwatchedSeconds, 600);
      const off = await gqlData(withDefault.url, `mutation { submitQuery(input: { sql: "select 1", cancelIfUnwatchedSeconds: 0 }) { job { cancelIfUnwatchedSeconds } } }`);
      assert.equal(off.submitQuery.job.cancelIfUnwatchedSeconds, null);
    } finally {
      await withDefault.stop();
    }
  });

  test('an out-of-range setting is BAD_USER_INPUT', async () => {
    for (const value of [-1, 86_401]) {
      const answer = await gql(server.url, `mutation($s: Int) { submitQuery(input: { sql: "select 1", cancelIfUnwatchedSeconds: $s }) { job { id } } }`, { s: value });
      assert.equal(answer.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(answer));
    }
  });
});
