/**
 * Several instances on Snowflake (through the wire-level double), sharing the real PostgreSQL and
 * Redis of the machine: cross-instance subscriptions, one poller per job, takeover after kill -9
 * and after a graceful stop, cancel from anywhere, shared submission limits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collect, collecting, gql, gqlData, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import { within } from '../helpers/wait-for.ts';

const STATUS = `subscription($id: ID!) { jobStatus(id: $id) { status sequence job { id endedAt } } }`;

interface Event {
  jobStatus: { status: string; sequence: number; job: { id: string } };
}

/** Which Snowflake sessions (one per instance) polled each query, and when. */
function pollersByQuery(cluster: Cluster, queryIds: string[]): Map<string, { sessionId: number; first: number; last: number }[]> {
  const result = new Map<string, { sessionId: number; first: number; last: number }[]>();
  for (const queryId of queryIds) {
    const spans = new Map<number, { sessionId: number; first: number; last: number }>();
    for (const call of cluster.double.monitoringLog) {
      if (call.queryId !== queryId) continue;
      const span = spans.get(call.sessionId) ?? { sessionId: call.sessionId, first: call.at, last: call.at };
      span.last = call.at;
      spans.set(call.sessionId, span);
    }
    result.set(queryId, [...spans.values()].sort((a, b) => a.first - b.first));
  }
  return result;
}

describe('three instances on one PostgreSQL, Redis and Snowflake', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ instances: 3, env: { JOBQL_LEASE_TTL_MS: '2000', JOBQL_MAX_CONCURRENT_JOBS: '3' } });
  });
  after(() => cluster?.stop());

  test('a subscriber on one instance hears every transition of a job submitted through another', async () => {
    const [a, b] = cluster.instances;
    const job = await submit(b!.url, 'select 1 /* sleep 1500 */');
    const client = wsClient(a!.wsUrl);
    try {
      const { events, errors } = await collect<Event>(client, STATUS, { id: job.id });
      assert.equal(errors, null);
      const statuses = events.map((e) => e.jobStatus.status);
      assert.equal(statuses.at(-1), 'SUCCESS');
      assert.ok(statuses.includes('RUNNING'), statuses.join(','));
      // Beyond the state read at subscribe time, the later ones came from instance B through Redis.
      assert.ok(events.length >= 2, statuses.join(','));
      const sequences = events.map((e) => e.jobStatus.sequence);
      assert.deepEqual(sequences, [...sequences].sort((x, y) => x - y));
    } finally {
      await client.dispose();
    }
  });

  test('each active job is polled by exactly one instance', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 9 }, (_, i) => submit(cluster.instances[i % 3]!.url, `select ${i} /* sleep 2500 */`)),
    );
    const ended = await Promise.all(jobs.map((job, i) => waitForEnd(cluster.instances[(i + 1) % 3]!.url, job.id)));
    assert.ok(ended.every((job) => job.status === 'SUCCESS'));
    const pollers = pollersByQuery(cluster, ended.map((job) => job.queryId));
    for (const [queryId, spans] of pollers) assert.equal(spans.length, 1, `query ${queryId} was polled by ${spans.length} instances`);
    // And the work is spread: every instance polled some of them.
    assert.equal(new Set([...pollers.values()].map((spans) => spans[0]!.sessionId)).size, 3);
  });

  test('cancelJob through any instance stops a job another instance polls', async () => {
    const [a, , c] = cluster.instances;
    const job = await submit(a!.url, 'select 1 /* sleep 60000 */');
    await waitForStatus(a!.url, job.id, 'RUNNING');
    const cancelled = await gqlData(c!.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { status } } }', { id: job.id });
    assert.equal(cancelled.cancelJob.job.status, 'ABORTING');
    const ended = await waitForEnd(a!.url, job.id);
    assert.equal(ended.status, 'ABORTED');
    assert.equal(cluster.double.queries.get(ended.queryId)?.cancelled, true);
  });

  test('kill -9 of an instance mid-job: the others take its jobs over, and subscribers hear the end', async () => {
    const [a, b, c] = cluster.instances;
    // Five jobs through B: three run there (its slots), two wait queued in the shared store.
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await submit(b!.url, `select ${i} /* sleep 3000 */`));
    await waitForStatus(b!.url, jobs[0].id, 'RUNNING');
    const clients = [wsClient(a!.wsUrl), wsClient(c!.wsUrl)];
    const heard = jobs.flatMap((job) => clients.map((client) => collecting<Event>(client, STATUS, { id: job.id })));
    // Each subscription is in place once its first event (the job's current state) arrived.
    await within(Promise.all(heard.map((h) => h.first)), { timeoutMs: 10_000, what: 'the first event of every subscription' });
    b!.child.kill('SIGKILL');
    const killedAt = Date.now();
    await b!.exited;

    const results = await Promise.all(heard.map((h) => h.result));
    for (const { events, errors } of results) {
      assert.equal(errors, null);
      assert.equal(events.at(-1)?.jobStatus.status, 'SUCCESS');
    }
    const ended = await Promise.all(jobs.map((job) => waitForEnd(a!.url, job.id)));
    assert.ok(ended.every((job) => job.status === 'SUCCESS'), JSON.stringify(ended.map((j) => j.status)));
    // Each query ran once at Snowflake (no job was submitted twice).
    const queryIds = ended.map((job) => job.queryId);
    assert.equal(new Set(queryIds).size, 5);
    for (const job of ended) {
      const ran = [...cluster.double.queries.values()].filter((q) => q.sqlText === job.queryText);
      assert.equal(ran.length, 1, `${job.queryText} ran ${ran.length} times`);
    }
    // Never two pollers at once: the dead instance's calls end before the next one's begin.
    for (const [queryId, spans] of pollersByQuery(cluster, queryIds)) {
      for (let i = 1; i < spans.length; i++) {
        assert.ok(spans[i]!.first > spans[i - 1]!.last, `query ${queryId} was polled by two instances at once`);
        assert.ok(spans[i - 1]!.last <= killedAt + 50, 'the killed instance kept polling');
      }
    }
    for (const client of clients) await client.dispose();
  });
});

describe('two instances with a long lease and a shared submission limit', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({
      instances: 2,
      env: { JOBQL_LEASE_TTL_MS: '60000', JOBQL_MAX_SUBMISSIONS_PER_MINUTE: '4' },
    });
  });
  after(() => cluster?.stop());

  let long: { id: string };

  test('submissions per minute are counted across instances (Redis)', async () => {
    const [a, b] = cluster.instances;
    long = await submit(b!.url, 'select 1 /* sleep 6000 */');
    await submit(a!.url, 'select 2');
    await submit(b!.url, 'select 3');
    await submit(a!.url, 'select 4');
    const refused = await gql(b!.url, 'mutation { submitQuery(input: {sql: "select 5"}) { job { id } } }');
    assert.equal(refused.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
  });

  test('a graceful stop hands its leases over at once, long before they would run out', async () => {
    const [a, b] = cluster.instances;
    await waitForStatus(b!.url, long.id, 'RUNNING');
    const stoppedAt = Date.now();
    b!.child.kill('SIGTERM');
    assert.equal((await b!.exited).code, 0);
    const ended = await waitForEnd(a!.url, long.id, 30_000);
    assert.equal(ended.status, 'SUCCESS');
    // The lease lasts 60 s; an end seen within seconds shows it was released, not left to run out.
    assert.ok(Date.now() - stoppedAt < 15_000, `took ${Date.now() - stoppedAt} ms`);
  });
});
