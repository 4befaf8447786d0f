/**
 * The jobStatus subscription over graphql-ws and SSE, and the one polling loop behind it: event
 * order, sequences, late subscribers, and warehouse calls that do not depend on subscribers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collect, gql, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SUBSCRIPTION = `subscription($id: ID!) {
  jobStatus(id: $id) { kind status previousStatus sequence at job { id status isDone endedAt } } }`;

/**
 * The TRANSITION events of a subscription; each PROGRESS or QUEUE_POSITION event among them must
 * repeat the sequence of the transition before it (news of that state, not a new one).
 */
function transitions(events: any[]): any[] {
  let last: number | null = null;
  const kept = [];
  for (const e of events) {
    if (e.jobStatus.kind === 'TRANSITION') {
      last = e.jobStatus.sequence;
      kept.push(e);
    } else {
      assert.equal(e.jobStatus.sequence, last, `${e.jobStatus.kind} repeats the latest transition's sequence`);
    }
  }
  return kept;
}

let server: TestServer;
before(async () => {
  server = await startServer({ JOBQL_MAX_CONCURRENT_JOBS: '1' });
});
after(() => server.stop());

describe('jobStatus', () => {
  test('emits the current state, every transition in order, then completes', async () => {
    const client = wsClient(server.wsUrl);
    try {
      // The first job holds the only slot, so the second is seen QUEUED, then RUNNING, then SUCCESS.
      const blocker = await submit(server.url, 'select sum(hash(range)) from range(200000000)');
      const job = await submit(server.url, 'select 42');
      const collected = await collect(client, SUBSCRIPTION, { id: job.id });
      const { errors } = collected;
      const events = transitions(collected.events);
      assert.equal(errors, null);
      assert.deepEqual(
        events.map((e) => [e.jobStatus.previousStatus, e.jobStatus.status, e.jobStatus.sequence]),
        [
          [null, 'QUEUED', 1],
          ['QUEUED', 'RUNNING', 2],
          ['RUNNING', 'SUCCESS', 3],
        ],
      );
      const times = events.map((e) => Date.parse(e.jobStatus.at));
      assert.deepEqual([...times].sort((a, b) => a - b), times, 'event times never go back');
      assert.equal(events.at(-1).jobStatus.job.isDone, true);
      assert.equal((await waitForEnd(server.url, blocker.id)).status, 'SUCCESS');
    } finally {
      await client.dispose();
    }
  });

  test('a late subscriber gets the terminal state at once, and completion', async () => {
    const job = await submit(server.url, 'select 1');
    const ended = await waitForEnd(server.url, job.id);
    const client = wsClient(server.wsUrl);
    try {
      const { events, errors } = await collect(client, SUBSCRIPTION, { id: job.id });
      assert.equal(errors, null);
      assert.equal(events.length, 1);
      assert.equal(events[0].jobStatus.status, 'SUCCESS');
      assert.equal(events[0].jobStatus.previousStatus, 'RUNNING');
      assert.equal(events[0].jobStatus.sequence, 3);
      assert.equal(events[0].jobStatus.job.endedAt, ended.endedAt);
    } finally {
      await client.dispose();
    }
  });

  test('a subscriber joining mid-run sees the current state first and nothing twice', async () => {
    const job = await submit(server.url, 'select sum(hash(range)) from range(300000000)');
    const client = wsClient(server.wsUrl);
    try {
      const first = await collectUntilStatus(client, job.id, 'RUNNING');
      const events = transitions((await collect(client, SUBSCRIPTION, { id: job.id })).events);
      assert.equal(events[0].jobStatus.status, first);
      const sequences = events.map((e) => e.jobStatus.sequence);
      assert.deepEqual(sequences, [...new Set(sequences)].sort((a, b) => a - b));
      assert.equal(events.at(-1).jobStatus.status, 'SUCCESS');
    } finally {
      await client.dispose();
    }
  });

  test('many subscribers on one job get the same events', async () => {
    const job = await submit(server.url, 'select sum(hash(range)) from range(100000000)');
    const clients = Array.from({ length: 20 }, () => wsClient(server.wsUrl));
    try {
      const runs = await Promise.all(clients.map((c) => collect(c, SUBSCRIPTION, { id: job.id })));
      const last = runs.map((r) => r.events.at(-1).jobStatus);
      assert.ok(last.every((e) => e.status === 'SUCCESS' && e.sequence === last[0].sequence));
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  test('an unknown id is a NOT_FOUND error and leaves the socket usable', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const missing = await collect(client, SUBSCRIPTION, { id: 'job_nope' });
      assert.equal((missing.errors as any)[0].extensions.code, 'NOT_FOUND');
      const job = await submit(server.url, 'select 1');
      const ok = await collect(client, SUBSCRIPTION, { id: job.id });
      assert.equal(ok.errors, null);
      assert.equal(ok.events.at(-1).jobStatus.status, 'SUCCESS');
    } finally {
      await client.dispose();
    }
  });

  test('works over Server-Sent Events too', async () => {
    const job = await submit(server.url, 'select 7');
    const query = encodeURIComponent(`subscription { jobStatus(id: "${job.id}") { status sequence } }`);
    const response = await fetch(`${server.url}?query=${query}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(response.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    const body = await response.text(); // the stream ends when the subscription completes
    const statuses = [...body.matchAll(/"status":"(\w+)"/g)].map((m) => m[1]);
    assert.equal(statuses.at(-1), 'SUCCESS');
    assert.match(body, /event: complete/);
  });
});

describe('subscriptions leave nothing behind', () => {
  test('clients that leave while their job waits remove their bus listeners at once', async () => {
    const blocker = await submit(server.url, 'select sum(hash(range)) from range(10000000000)');
    const waiting = await submit(server.url, 'select 1');
    const clients = Array.from({ length: 5 }, () => wsClient(server.wsUrl));
    const before = server.app.bus.listenerCount();
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            const stop = client.subscribe(
              { query: SUBSCRIPTION, variables: { id: waiting.id } },
              { next: () => (stop(), resolve()), error: () => resolve(), complete: () => resolve() },
            );
          }),
      ),
    );
    await Promise.all(clients.map((c) => c.dispose()));
    // The server removes them when it sees the sockets close; the job must still be waiting then.
    await waitFor(() => server.app.bus.listenerCount() === before, {
      timeoutMs: 5000,
      what: () => `the bus listeners to go (${server.app.bus.listenerCount()}, ${before} before)`,
    });
    assert.equal((await gql(server.url, `{ job(id: "${waiting.id}") { status } }`)).data?.['job'].status, 'QUEUED');
    await gql(server.url, `mutation { a: cancelJob(id: "${blocker.id}") { job { id } } b: cancelJob(id: "${waiting.id}") { job { id } } }`);
    await waitForEnd(server.url, blocker.id);
  });
});

describe('the polling loop', () => {
  test('makes no warehouse calls when no job is active', async () => {
    const before = { ...server.app.jobs.poller.stats };
    // A real wait: that nothing happens in it is what is checked (it spans the first backoff steps).
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(server.app.jobs.poller.stats, before);
    assert.equal(server.app.jobs.poller.trackedCount, 0);
  });

  test('its calls depend on the active jobs, not on the number of subscribers', async () => {
    const sql = 'select sum(hash(range)) from range(150000000)';
    let runMs = 0;
    const calls = async (subscribers: number): Promise<number> => {
      const start = server.app.jobs.poller.stats.queriesChecked;
      const job = await submit(server.url, sql);
      const clients = Array.from({ length: subscribers }, () => wsClient(server.wsUrl));
      try {
        await Promise.all(clients.map((c) => collect(c, SUBSCRIPTION, { id: job.id })));
        const ended = await waitForEnd(server.url, job.id);
        runMs = Date.parse(ended.endedAt) - Date.parse(ended.submittedAt);
      } finally {
        await Promise.all(clients.map((c) => c.dispose()));
      }
      return server.app.jobs.poller.stats.queriesChecked - start;
    };
    const none = await calls(0);
    const noneRunMs = runMs;
    const many = await calls(50);
    // Same job shape, same number of checks (give or take one backoff step of timing noise).
    assert.ok(Math.abs(many - none) <= 1, `0 subscribers: ${none} checks, 50 subscribers: ${many}`);
    // A start, an end, the engine's progress report (range(): one "unknown"), and the backoff's
    // checks for as long as it ran (slower on a loaded machine).
    assert.ok(none <= 3 + Math.ceil(noneRunMs / 1000), `${none} checks for a ${noneRunMs} ms job`);
  });

  test('backs off for a long job and is woken at once when it ends', async () => {
    const stats = server.app.jobs.poller.stats;
    const start = stats.queriesChecked;
    const job = await submit(server.url, 'select sum(hash(range)) from range(400000000)');
    const ended = await waitForEnd(server.url, job.id, 60_000);
    const runMs = Date.parse(ended.endedAt) - Date.parse(ended.startedAt);
    const checks = stats.queriesChecked - start;
    // Without backoff a 500 ms loop would check runMs / 500 times; with it, far fewer.
    assert.ok(checks <= 2 + Math.ceil(runMs / 1000), `${checks} checks for a ${runMs} ms job`);
    const response = await gql(server.url, `{ job(id: "${job.id}") { endedAt } }`);
    assert.ok(response.data);
  });

  test('a fast query reaches its subscriber within milliseconds of its end', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const lags: number[] = [];
      for (let i = 0; i < 10; i++) {
        const job = await submit(server.url, 'select 1');
        const received = new Promise<number>((resolve) => {
          client.subscribe(
            { query: SUBSCRIPTION, variables: { id: job.id } },
            {
              next: (v: any) => {
                if (v.data?.jobStatus.status === 'SUCCESS') resolve(Date.now() - Date.parse(v.data.jobStatus.job.endedAt));
              },
              error: () => resolve(Infinity),
              complete: () => {},
            },
          );
        });
        lags.push(await received);
      }
      lags.sort((a, b) => a - b);
      // A generous bound that still fails a poll-interval design (500 ms); the benchmark measures it.
      assert.ok(lags[Math.floor(lags.length / 2)]! < 250, `median end-to-event lag ${lags.join(',')} ms`);
    } finally {
      await client.dispose();
    }
  });
});

async function collectUntilStatus(client: ReturnType<typeof wsClient>, id: string, status: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe<any>(
      { query: SUBSCRIPTION, variables: { id } },
      {
        next: (v) => {
          if (v.data?.jobStatus.status === status) {
            unsubscribe();
            resolve(status);
          }
        },
        error: reject,
        complete: () => reject(new Error(`completed before ${status}`)),
      },
    );
  });
}
