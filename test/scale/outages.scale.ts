/**
 * Outages of the shared dependencies, against servers these tests start and stop themselves: a
 * private `redis-server` and a private PostgreSQL cluster (initdb), each on a port of its own,
 * killed and started again while instances on the Snowflake double serve. Without Redis,
 * submissions go on under the per-instance limit and subscribers on another instance are caught up
 * from the store when it returns; without PostgreSQL, requests get SERVICE_UNAVAILABLE with a retry
 * hint and a running job ends correctly after it; /readyz says what is missing; an instance
 * started while either does not answer stops with one line and exit code 69.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { collecting, gql, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.ts';
import { runToExit } from '../helpers/process.ts';
import { freePort, killRedis, startRedis } from '../helpers/private-redis.ts';
import { tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PER_MINUTE = 6;

async function readyz(url: string): Promise<{ code: number; body: { status: string; missing?: string[] } }> {
  const response = await fetch(new URL('/readyz', url));
  return { code: response.status, body: (await response.json()) as { status: string; missing?: string[] } };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}

const SUBMIT = 'mutation($sql: String!) { submitQuery(input: { sql: $sql }) { job { id status } } }';

describe('Redis away while two instances serve', () => {
  let redisPort: number;
  let redis: ChildProcess;
  let cluster: Cluster;
  before(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    cluster = await startCluster({
      instances: 2,
      env: { JOBQL_REDIS_URL: `redis://127.0.0.1:${redisPort}`, JOBQL_MAX_SUBMISSIONS_PER_MINUTE: String(PER_MINUTE) },
    });
  });
  after(async () => {
    await cluster?.stop();
    if (redis) await killRedis(redis);
  });

  test('submissions go on under the per-instance limit, /readyz says degraded, and it all comes back', async () => {
    const [instance] = cluster.instances;
    assert.ok(instance);
    assert.deepEqual(await readyz(instance.url), { code: 200, body: { status: 'ok' } });
    assert.equal(await metric(instance.url, 'jobql_dependency_up{dependency="redis"}'), 1);

    await killRedis(redis);
    const degraded = await waitFor(async () => {
      const answer = await readyz(instance.url);
      return answer.body.status === 'degraded' ? answer : null;
    }, { timeoutMs: 10_000, what: '/readyz to say Redis is missing' });
    assert.deepEqual(degraded, { code: 200, body: { status: 'degraded', missing: ['redis'] } });
    assert.equal((await fetch(new URL('/healthz', instance.url))).status, 200);

    // Every submission is answered with a job, not INTERNAL_SERVER_ERROR, and runs to its end.
    const jobs = [];
    for (let i = 0; i < PER_MINUTE; i++) jobs.push(await submit(instance.url, `select ${i} as n`));
    for (const job of jobs) assert.equal((await waitForEnd(instance.url, job.id)).status, 'SUCCESS');
    // The limit still holds, counted in this process.
    const over = await gql(instance.url, SUBMIT, { sql: 'select 99' });
    assert.equal(over.errors?.[0]?.extensions?.code, 'RATE_LIMITED', JSON.stringify(over.errors));
    assert.equal(await metric(instance.url, 'jobql_submission_limit_fallbacks_total'), PER_MINUTE + 1);
    assert.equal(await metric(instance.url, 'jobql_dependency_up{dependency="redis"}'), 0);
    assert.equal(await metric(instance.url, 'jobql_dependency_outages_total{dependency="redis"}'), 1, 'one outage, counted once');
    assert.match(instance.output(), /Redis does not answer: submissions per minute are counted per instance/);

    redis = await startRedis(redisPort);
    await waitFor(async () => ((await readyz(instance.url)).body.status === 'ok' ? true : null), {
      timeoutMs: 20_000,
      what: '/readyz to be ok once Redis is back',
    });
    await waitFor(() => /Redis answers again: submissions/.test(instance.output()) || null, { timeoutMs: 10_000, what: 'the log line of Redis back' });
    assert.match(instance.output(), /"dependency":"redis","outageMs":\d+,"msg":"Redis answers again"/);
    assert.equal(await metric(instance.url, 'jobql_dependency_outages_total{dependency="redis"}'), 1);
    assert.equal(await metric(instance.url, 'jobql_dependency_outages_total{dependency="postgresql"}'), 0);
    // Counted in Redis again: a fresh window there, so a submission is allowed.
    const back = await gql(instance.url, SUBMIT, { sql: 'select 100' });
    assert.equal(back.errors, undefined, JSON.stringify(back.errors));
  });

  test('a subscriber on the other instance still gets every transition of a job that ended while Redis was away', async () => {
    const [a, b] = cluster.instances;
    assert.ok(a && b);
    const job = await submit(a.url, 'select 7 as n /* sleep 1500 */');
    await waitForStatus(a.url, job.id, 'RUNNING');
    const client = wsClient(b.wsUrl);
    try {
      const events = collecting<{ jobStatus: { kind: string; status: string; sequence: number } }>(
        client,
        'subscription($id: ID!) { jobStatus(id: $id) { kind status sequence } }',
        { id: job.id },
      );
      await events.first;
      await killRedis(redis);
      // It ends (A polls Snowflake and writes PostgreSQL) while its event can reach no one.
      assert.equal((await waitForEnd(a.url, job.id)).status, 'SUCCESS');
      // ioredis holds a PUBLISH for a few reconnect attempts before failing it: wait until A gave
      // its events up, so that only the catch-up can bring them.
      await waitFor(async () => (await metric(a.url, 'jobql_events_unpublished_total')) >= 1 || null, {
        timeoutMs: 20_000,
        what: "A's events to be given up while Redis is away",
      });
      const before = await metric(b.url, 'jobql_subscription_catch_ups_total');
      redis = await startRedis(redisPort);
      const { events: seen, errors } = await events.result;
      assert.equal(errors, null);
      const transitions = seen.map((e) => e.jobStatus).filter((e) => e.kind === 'TRANSITION');
      assert.deepEqual(
        transitions.map((e) => e.status),
        ['RUNNING', 'SUCCESS'],
      );
      assert.deepEqual(
        transitions.map((e) => e.sequence),
        [transitions[0]!.sequence, transitions[0]!.sequence + 1],
        'gap-free',
      );
      assert.ok((await metric(b.url, 'jobql_subscription_catch_ups_total')) > before, 'counted as a catch-up');
    } finally {
      await client.dispose();
    }
  });
});

describe('PostgreSQL away while an instance serves', () => {
  let postgres: PrivatePostgres;
  let cluster: Cluster;
  before(async () => {
    postgres = await startPrivatePostgres(await freePort());
    // Leases of 3 s, renewed every second: polling pauses 2 s after the last renewal that worked.
    cluster = await startCluster({ instances: 1, env: { JOBQL_DATABASE_URL: postgres.url, JOBQL_LEASE_TTL_MS: '3000' } });
  });
  after(async () => {
    await cluster?.stop();
    await postgres?.remove();
  });

  test('requests get SERVICE_UNAVAILABLE with a retry hint, /readyz says so, and a running job ends after it', async () => {
    const [instance] = cluster.instances;
    assert.ok(instance);
    const job = await submit(instance.url, 'select 8 as n /* sleep 4000 */');
    const { queryId } = await waitForStatus(instance.url, job.id, 'RUNNING');

    await postgres.kill();
    const killedAt = Date.now();
    const refused = await gql(instance.url, SUBMIT, { sql: 'select 1' });
    assert.equal(refused.errors?.[0]?.extensions?.code, 'SERVICE_UNAVAILABLE', JSON.stringify(refused.errors));
    assert.equal(refused.errors?.[0]?.extensions?.['retryAfterSeconds'], 2);
    const read = await gql(instance.url, 'query($id: ID!) { job(id: $id) { status } }', { id: job.id });
    assert.ok(
      read.data?.job?.status === 'RUNNING' || read.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE',
      `a read answers from memory or says SERVICE_UNAVAILABLE: ${JSON.stringify(read)}`,
    );
    assert.deepEqual(await readyz(instance.url), { code: 503, body: { status: 'unavailable', missing: ['postgresql'] } });
    assert.equal((await fetch(new URL('/healthz', instance.url))).status, 200);
    // /metrics still answers, and shows the outage.
    assert.equal(await metric(instance.url, 'jobql_dependency_up{dependency="postgresql"}'), 0);
    assert.equal(await metric(instance.url, 'jobql_dependency_outages_total{dependency="postgresql"}'), 1);
    await new Promise((resolve) => setTimeout(resolve, 5000)); // the query ends on Snowflake meanwhile
    // Its lease could have passed to another instance 3 s after the last renewal: this one stopped
    // polling before that (2 s after it), so no query is ever polled by two.
    const lateCalls = cluster.double.monitoringLog.filter((call) => call.queryId === queryId && call.at > killedAt + 2500);
    assert.deepEqual(lateCalls, [], 'polled while its lease may have passed to another instance');
    assert.match(instance.output(), /polling leases not renewed in time/);

    await postgres.start();
    await waitFor(async () => ((await readyz(instance.url)).code === 200 ? true : null), {
      timeoutMs: 20_000,
      what: '/readyz to be 200 once PostgreSQL is back',
    });
    const ended = await waitForEnd(instance.url, job.id, 30_000);
    assert.equal(ended.status, 'SUCCESS');
    assert.equal(await metric(instance.url, 'jobql_dependency_outages_total{dependency="postgresql"}'), 1, 'one outage, counted once');
    assert.match(instance.output(), /"msg":"PostgreSQL does not answer"/);
    // The outage is said once, not as an error (with a stack) per tick, pass and refused request.
    const errors = instance.output().split('\n').filter((line) => line.includes('"level":50'));
    assert.deepEqual(errors, [], 'no error lines for an outage');
    assert.match(instance.output(), /"dependency":"postgresql","outageMs":\d+,"msg":"PostgreSQL answers again"/);
    // Its whole history is there, gap-free: nothing was written half.
    const client = wsClient(instance.wsUrl);
    try {
      const { events } = await collecting<{ jobStatus: { status: string; sequence: number } }>(
        client,
        'subscription($id: ID!) { jobStatus(id: $id, afterSequence: 0) { status sequence } }',
        { id: job.id },
      ).result;
      assert.deepEqual(
        events.map((e) => [e.jobStatus.sequence, e.jobStatus.status]),
        [[1, 'QUEUED'], [2, 'RUNNING'], [3, 'SUCCESS']],
      );
    } finally {
      await client.dispose();
    }
    const after = await submit(instance.url, 'select 9 as n');
    assert.equal((await waitForEnd(instance.url, after.id)).status, 'SUCCESS');
  });
});

describe('starting while a dependency does not answer', () => {
  const base = {
    JOBQL_WAREHOUSE: 'snowflake',
    SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:9',
    SNOWFLAKE_ACCOUNT: 'testaccount',
    SNOWFLAKE_USER: 'jobql',
    SNOWFLAKE_PASSWORD: 'secret',
    JOBQL_DOWNLOAD_SIGNING_KEY: Buffer.alloc(32, 7).toString('base64'),
    PORT: '0',
  };

  test('Redis: one line, exit code 69, no stack trace', async () => {
    const home = tempDir('jobql-outage-');
    const database = await createTestDatabase();
    try {
      const { code, output } = await runToExit({
        ...base,
        SNOWFLAKE_HOME: home,
        JOBQL_DATA_DIR: home,
        JOBQL_DATABASE_URL: database.url,
        JOBQL_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      });
      assert.equal(code, 69, output);
      assert.match(output, /^jobql: Redis at JOBQL_REDIS_URL did not answer \(.*\); not started$/m);
      assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    } finally {
      await database.drop();
    }
  });

  test('PostgreSQL: one line, exit code 69, no stack trace', async () => {
    const home = tempDir('jobql-outage-');
    const { code, output } = await runToExit({
      ...base,
      SNOWFLAKE_HOME: home,
      JOBQL_DATA_DIR: home,
      JOBQL_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
      JOBQL_REDIS_URL: 'redis://127.0.0.1:6379',
    });
    assert.equal(code, 69, output);
    assert.match(output, /^jobql: PostgreSQL at JOBQL_DATABASE_URL did not answer \(.*\); not started$/m);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  });
});
