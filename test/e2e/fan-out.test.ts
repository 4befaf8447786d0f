/**
 * Fan-out (goal G6): an event is executed once per distinct (selection, variables, principal),
 * not once per subscriber, and every subscriber of a selection gets the same payload. The wire
 * format, errors included, is byte for byte what graphql-ws sends on its own (the expected
 * frames below were recorded from the server before shared execution existed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { RequestErrorCode, requestError } from '../../src/core/errors.ts';
import type { ResultPage } from '../../src/core/results.ts';
import { newApiKey } from '../helpers/auth.ts';
import { gqlData, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const LONG = 'select sum(hash(range)) from range(10000000000)';
const SOCKETS = 10;
const PER_SOCKET = 20;
const STATUS = 'subscription($id: ID!) { jobStatus(id: $id) { status previousStatus sequence at job { id status isDone endedAt } } }';
const OTHER = 'subscription($id: ID!) { jobStatus(id: $id) { sequence status } }';

const keys = {
  alice: newApiKey('alice', false),
  bob: newApiKey('bob', true), // an admin: may follow alice's jobs
  carol: newApiKey('carol', false),
};

let server: TestServer;
before(async () => {
  // Transitions only: a PROGRESS event reaches just the subscribers open when it is published, and
  // these tests compare every subscriber's events (the progress fan-out: test/e2e/progress.test.ts).
  server = await startServer({
    JOBQL_API_KEYS: Object.values(keys).map((k) => k.entry).join(','),
    JOBQL_MAX_CONCURRENT_JOBS: '2',
    JOBQL_PROGRESS_EVENTS_PER_SECOND: '0',
  });
});
after(() => server.stop());

/** One subscription's payloads, as JSON text, and its end. */
interface Follower {
  payloads: string[];
  first: Promise<void>;
  end: Promise<{ error: unknown }>;
}

function follow(client: Client, query: string, id: string): Follower {
  const payloads: string[] = [];
  let first: () => void = () => {};
  const firstSeen = new Promise<void>((resolve) => (first = resolve));
  const end = new Promise<{ error: unknown }>((resolve) => {
    client.subscribe(
      { query, variables: { id } },
      {
        next: (value) => {
          payloads.push(JSON.stringify(value));
          first();
        },
        error: (error) => {
          first();
          resolve({ error });
        },
        complete: () => resolve({ error: null }),
      },
    );
  });
  return { payloads, first: firstSeen, end };
}

async function runningJob(token: string): Promise<string> {
  const job = await submit(server.url, LONG, {}, token);
  await waitForStatus(server.url, job.id, 'RUNNING', 20_000, token);
  return job.id;
}

async function cancel(id: string, token: string): Promise<void> {
  await gqlData(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id }, token);
  await waitForEnd(server.url, id, 20_000, 'id isTerminal', token);
}

/**
 * Opens the followers (each `[client, query]` pair once per entry), waits for every first event,
 * cancels the job and waits for every end; returns the executions and reuses the transitions cost.
 */
async function transitionsOf(
  jobId: string,
  owner: string,
  followers: { client: Client; query: string }[],
): Promise<{ followed: Follower[]; executions: number; reused: number; transitions: number }> {
  const listenersBefore = server.app.bus.listenerCount();
  const followed = followers.map(({ client, query }) => follow(client, query, jobId));
  await Promise.all(followed.map((f) => f.first));
  const start = { ...server.app.executionStats };
  await cancel(jobId, owner);
  const ends = await Promise.all(followed.map((f) => f.end));
  for (const end of ends) assert.equal(end.error, null);
  const transitions = followed[0]!.payloads.length - 1;
  assert.ok(transitions >= 2, `saw ${followed[0]!.payloads.join(' ')}`); // ABORTING, ABORTED at least
  assert.match(followed[0]!.payloads.at(-1) ?? '', /"ABORTED"/);
  // Nothing is left behind: no selection, no bus listener of these subscriptions.
  await waitFor(() => server.app.executionStats.selections === 0, { timeoutMs: 5000, what: 'the selections to close' });
  await waitFor(() => server.app.bus.listenerCount() === listenersBefore, { timeoutMs: 5000, what: 'the bus listeners to go' });
  return {
    followed,
    executions: server.app.executionStats.executions - start.executions,
    reused: server.app.executionStats.reused - start.reused,
    transitions,
  };
}

function clients(token: string, count = SOCKETS): Client[] {
  return Array.from({ length: count }, () => wsClient(server.wsUrl, token));
}

describe('shared execution of subscription events', () => {
  test(`${SOCKETS * PER_SOCKET} subscribers of one job on ${SOCKETS} sockets: one execution per transition, identical payloads`, async () => {
    const job = await runningJob(keys.alice.key);
    const sockets = clients(keys.alice.key);
    try {
      const { followed, executions, reused, transitions } = await transitionsOf(
        job,
        keys.alice.key,
        sockets.flatMap((client) => Array.from({ length: PER_SOCKET }, () => ({ client, query: STATUS }))),
      );
      const expected = followed[0]!.payloads;
      for (const f of followed) assert.deepEqual(f.payloads, expected);
      assert.equal(executions, transitions, `${executions} executions for ${transitions} transitions`);
      assert.equal(reused, transitions * (followed.length - 1));
    } finally {
      await Promise.all(sockets.map((c) => c.dispose()));
    }
  });

  test('two selections on one job: two executions per transition, each shared by its own subscribers', async () => {
    const job = await runningJob(keys.alice.key);
    const sockets = clients(keys.alice.key, 4);
    try {
      const { followed, executions, transitions } = await transitionsOf(
        job,
        keys.alice.key,
        sockets.flatMap((client, i) => Array.from({ length: 25 }, () => ({ client, query: i % 2 ? OTHER : STATUS }))),
      );
      assert.equal(executions, 2 * transitions);
      const bySelection = Map.groupBy(followed, (_, i) => Math.floor(i / 25) % 2);
      for (const group of bySelection.values()) for (const f of group) assert.deepEqual(f.payloads, group[0]!.payloads);
      assert.notDeepEqual(bySelection.get(0)![0]!.payloads, bySelection.get(1)![0]!.payloads);
    } finally {
      await Promise.all(sockets.map((c) => c.dispose()));
    }
  });

  test('two principals with the same selection: not shared (one execution per principal); a third one sees NOT_FOUND', async () => {
    const job = await runningJob(keys.alice.key);
    const alice = clients(keys.alice.key, 2);
    const bob = clients(keys.bob.key, 2);
    const carol = wsClient(server.wsUrl, keys.carol.key);
    try {
      const outsider = follow(carol, STATUS, job);
      const end = await outsider.end;
      assert.deepEqual(outsider.payloads, []);
      assert.equal((end.error as { extensions?: { code?: string } }[])[0]?.extensions?.code, 'NOT_FOUND');
      const { executions, transitions } = await transitionsOf(
        job,
        keys.alice.key,
        [...alice, ...bob].flatMap((client) => Array.from({ length: 10 }, () => ({ client, query: STATUS }))),
      );
      assert.equal(executions, 2 * transitions);
    } finally {
      await Promise.all([...alice, ...bob, carol].map((c) => c.dispose()));
    }
  });

  test('the same selection with other variables (another job) is another execution', async () => {
    const [a, b] = [await runningJob(keys.alice.key), await runningJob(keys.alice.key)];
    const sockets = clients(keys.alice.key, 2);
    try {
      const followed = sockets.flatMap((client) => [follow(client, STATUS, a), follow(client, STATUS, a), follow(client, STATUS, b)]);
      await Promise.all(followed.map((f) => f.first));
      const start = server.app.executionStats.executions;
      await Promise.all([cancel(a, keys.alice.key), cancel(b, keys.alice.key)]);
      await Promise.all(followed.map((f) => f.end));
      const transitions = (f: Follower): number => f.payloads.length - 1;
      assert.equal(server.app.executionStats.executions - start, transitions(followed[0]!) + transitions(followed[2]!));
    } finally {
      await Promise.all(sockets.map((c) => c.dispose()));
    }
  });
});

/** A raw graphql-transport-ws socket that records every frame as text. */
async function rawSocket(token: string): Promise<{ ws: WebSocket; frames: string[]; subscribe(id: string, payload: unknown): Promise<void> }> {
  const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  const frames: string[] = [];
  const ends = new Map<string, () => void>();
  ws.on('message', (data) => {
    const text = String(data);
    frames.push(text);
    const message = JSON.parse(text) as { id?: string; type: string };
    if (message.id && (message.type === 'complete' || message.type === 'error')) ends.get(message.id)?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.once('message', () => resolve());
  });
  return {
    ws,
    frames,
    subscribe(id, payload) {
      const ended = new Promise<void>((resolve) => ends.set(id, resolve));
      ws.send(JSON.stringify({ id, type: 'subscribe', payload }));
      return ended;
    },
  };
}

/** The frames of subscription `id`, with job ids and times replaced, as recorded before. */
function framesOf(frames: string[], id: string): string[] {
  return frames
    .filter((f) => f.startsWith(`{"id":"${id}"`))
    .map((f) =>
      f
        .replace(/job_[A-Za-z0-9_-]+/g, 'JOB')
        .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME')
        // A signed download link's query (principal, expiry, signature) differs per run.
        .replace(/\?principal=[^"]*&expires=\d+&sig=[\w-]+/g, '?LINK'),
    );
}

describe('the wire format is what graphql-ws sends', () => {
  test('errors: NOT_FOUND, variables, a failing source (masked or coded), field errors in a shared event', async () => {
    const socket = await rawSocket(keys.alice.key);
    const q = 'subscription($id: ID!) { jobStatus(id: $id) { status sequence } }';
    try {
      await socket.subscribe('notfound', { query: q, variables: { id: 'job_nope' } });
      await socket.subscribe('novar', { query: q, variables: {} });
      await socket.subscribe('badvar', { query: q, variables: { id: { a: 1 } } });

      const jobs = server.app.jobs;
      const get = jobs.get;
      try {
        jobs.get = async () => {
          throw new Error('secret store failure /var/x');
        };
        await socket.subscribe('storefail', { query: q, variables: { id: 'job_x' } });
        jobs.get = async () => {
          throw requestError(RequestErrorCode.SERVICE_UNAVAILABLE, 'coded store failure');
        };
        await socket.subscribe('storecoded', { query: q, variables: { id: 'job_x' } });
      } finally {
        jobs.get = get;
      }

      // Two subscribers of one selection; reading the result fails when the job ends.
      const warehouse = server.app.warehouse;
      const readResult = warehouse.readResult;
      let mode: 'masked' | 'coded' = 'masked';
      try {
        warehouse.readResult = async (): Promise<ResultPage | null> => {
          if (mode === 'masked') throw new Error('secret read failure /var/y');
          throw requestError(RequestErrorCode.RESULT_EXPIRED, 'gone');
        };
        const rq =
          'subscription($id: ID!) { jobStatus(id: $id) { status previousStatus sequence job { id status isDone isFailed isTerminal downloads { csv } result(first: 1) { rows totalRows } } } }';
        const job = await submit(server.url, 'select sum(hash(range)) as s from range(100000000)', {}, keys.alice.key);
        await waitForStatus(server.url, job.id, 'RUNNING', 20_000, keys.alice.key);
        const executions = server.app.executionStats.executions;
        await Promise.all([socket.subscribe('result1', { query: rq, variables: { id: job.id } }), socket.subscribe('result2', { query: rq, variables: { id: job.id } })]);
        // Two first events (one each, from the store) and one shared SUCCESS event.
        assert.equal(server.app.executionStats.executions - executions, 3);
        mode = 'coded';
        const job2 = await submit(server.url, 'select sum(hash(range)) as s from range(100000000)', {}, keys.alice.key);
        await waitForStatus(server.url, job2.id, 'RUNNING', 20_000, keys.alice.key);
        await socket.subscribe('coded', { query: rq, variables: { id: job2.id } });
      } finally {
        warehouse.readResult = readResult;
      }

      const expected: Record<string, string[]> = {
        notfound: ['{"id":"notfound","type":"error","payload":[{"message":"No job with id \\"JOB\\"","extensions":{"code":"NOT_FOUND"}}]}'],
        novar: [
          '{"id":"novar","type":"next","payload":{"errors":[{"message":"Variable \\"$id\\" of required type \\"ID!\\" was not provided.","locations":[{"line":1,"column":14}],"extensions":{"http":{"status":400},"code":"BAD_USER_INPUT"}}]}}',
          '{"id":"novar","type":"complete"}',
        ],
        badvar: [
          '{"id":"badvar","type":"next","payload":{"errors":[{"message":"Variable \\"$id\\" got invalid value { a: 1 }; ID cannot represent value: { a: 1 }","locations":[{"line":1,"column":14}],"extensions":{"http":{"status":400},"code":"BAD_USER_INPUT"}}]}}',
          '{"id":"badvar","type":"complete"}',
        ],
        storefail: ['{"id":"storefail","type":"error","payload":[{"message":"Unexpected error.","extensions":{"code":"INTERNAL_SERVER_ERROR","unexpected":true}}]}'],
        storecoded: ['{"id":"storecoded","type":"error","payload":[{"message":"coded store failure","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}'],
      };
      const running = (id: string): string =>
        `{"id":"${id}","type":"next","payload":{"data":{"jobStatus":{"status":"RUNNING","previousStatus":"QUEUED","sequence":2,"job":{"id":"JOB","status":"RUNNING","isDone":false,"isFailed":false,"isTerminal":false,"downloads":null,"result":null}}}}}`;
      const success = (id: string, error: string): string =>
        `{"id":"${id}","type":"next","payload":{"data":{"jobStatus":{"status":"SUCCESS","previousStatus":"RUNNING","sequence":3,"job":{"id":"JOB","status":"SUCCESS","isDone":true,"isFailed":false,"isTerminal":true,"downloads":{"csv":"/jobs/JOB/result.csv?LINK"},"result":null}}},"errors":[${error}]}}`;
      const masked = '{"message":"Unexpected error.","locations":[{"line":1,"column":139}],"path":["jobStatus","job","result"],"extensions":{"code":"INTERNAL_SERVER_ERROR","unexpected":true}}';
      const coded = '{"message":"gone","locations":[{"line":1,"column":139}],"path":["jobStatus","job","result"],"extensions":{"code":"RESULT_EXPIRED"}}';
      for (const id of ['result1', 'result2']) expected[id] = [running(id), success(id, masked), `{"id":"${id}","type":"complete"}`];
      expected['coded'] = [running('coded'), success('coded', coded), '{"id":"coded","type":"complete"}'];
      for (const [id, frames] of Object.entries(expected)) assert.deepEqual(framesOf(socket.frames, id), frames, id);
    } finally {
      socket.ws.close();
    }
  });
});
