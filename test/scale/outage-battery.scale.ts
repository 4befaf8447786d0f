/**
 * The outage battery: Redis or PostgreSQL goes away for 2 s or for 20 s, at a random moment, while
 * 100 jobs of random length are submitted to two instances on the Snowflake double, each job
 * followed by a subscriber on each instance. Clients behave as the README tells them to: a refused
 * submission is retried with its idempotency key after `retryAfterSeconds`, a subscription that
 * ends early or fails is taken up again with `afterSequence` at the last transition seen.
 *
 * Each scenario prints one line of figures (docs/RELIABILITY.md records them): jobs lost, queries
 * run twice, subscribers that missed a transition, refusals by code, and how long after the
 * dependency returned the instances were ready and every subscriber had every job's end.
 * `BATTERY_SEED` replays the moments and lengths of a run.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { BATTERY_SEED, seededRandom, Tally } from '../battery/seed.ts';
import type { GraphQLResponse } from '../helpers/client.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.ts';
import { freePort, killRedis, startRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait-for.ts';

const JOBS = 100;
const TERMINAL = new Set(['SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT', 'ABORTED', 'DISCONNECTED']);
const SUBMIT = 'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }';
const FOLLOW = `subscription($id: ID!, $afterSequence: Int) {
  jobStatus(id: $id, afterSequence: $afterSequence) { kind sequence status } }`;

type Dependency = 'redis' | 'postgresql';
interface Transition {
  sequence: number;
  status: string;
  /** When this client received it. */
  at: number;
}

/** One GraphQL POST that cannot hang the battery: a request that takes 15 s counts as refused. */
async function post<T>(url: string, query: string, variables: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** The error code a refusal carries, or what went wrong below GraphQL. */
function codeOf(errors: unknown): string {
  if (Array.isArray(errors)) return String((errors[0] as { extensions?: { code?: string } })?.extensions?.code ?? 'NO_CODE');
  if (errors && typeof errors === 'object' && 'code' in errors) return `CLOSE_${String((errors as { code: unknown }).code)}`;
  return errors instanceof Error ? errors.name : 'UNKNOWN';
}

/** Submits until a job id comes back, as a careful client does: same idempotency key, waiting the hint. */
async function submitPatiently(
  url: string,
  sql: string,
  key: string,
  deadline: number,
  refused: Tally,
): Promise<{ id: string; at: number; afterRefusal: boolean } | null> {
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    let hint = 1;
    try {
      const answer = await post<{ submitQuery: { job: { id: string } } }>(url, SUBMIT, { input: { sql, idempotencyKey: key } });
      const id = answer.data?.submitQuery?.job.id;
      if (id) return { id, at: Date.now(), afterRefusal: attempt > 0 };
      refused.add(codeOf(answer.errors));
      hint = Number(answer.errors?.[0]?.extensions?.['retryAfterSeconds'] ?? 1);
    } catch (error) {
      refused.add(codeOf(error));
    }
    await sleep(hint * 1000 * (0.5 + Math.random() / 2));
  }
  return null;
}

/**
 * Follows a job to its end on a socket of its own (a browser tab of its own), resuming with
 * `afterSequence` whenever the subscription fails or completes before the end. Returns every
 * transition received, in order; counts the failures met.
 */
async function follow(wsUrl: string, id: string, deadline: number, failures: Tally): Promise<Transition[]> {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    return await followOn(client, id, deadline, failures);
  } finally {
    await client.dispose();
  }
}

async function followOn(client: Client, id: string, deadline: number, failures: Tally): Promise<Transition[]> {
  const seen: Transition[] = [];
  while (Date.now() < deadline && !TERMINAL.has(seen.at(-1)?.status ?? '')) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stop();
        resolve();
      }, Math.max(0, deadline - Date.now()));
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const stop = client.subscribe<{ jobStatus: { kind: string; sequence: number; status: string } }>(
        { query: FOLLOW, variables: { id, afterSequence: seen.at(-1)?.sequence ?? 0 } },
        {
          next: (value) => {
            if (value.errors) return void failures.add(codeOf(value.errors));
            const event = value.data?.jobStatus;
            if (event?.kind === 'TRANSITION') seen.push({ sequence: event.sequence, status: event.status, at: Date.now() });
          },
          error: (error) => {
            failures.add(codeOf(error));
            done();
          },
          complete: done,
        },
      );
    });
    if (!TERMINAL.has(seen.at(-1)?.status ?? '')) await sleep(300);
  }
  return seen;
}

/** The job's whole history as the store keeps it, read once everything has ended. */
async function historyOf(wsUrl: string, id: string): Promise<{ sequence: number; status: string }[]> {
  const seen = await follow(wsUrl, id, Date.now() + 15_000, new Tally());
  return seen.map(({ sequence, status }) => ({ sequence, status }));
}

describe('the outage battery: 100 jobs on two instances while Redis or PostgreSQL goes away', () => {
  let redisPort: number;
  let redis: ChildProcess;
  let postgres: PrivatePostgres;
  let cluster: Cluster;
  const random = seededRandom(BATTERY_SEED);

  before(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    postgres = await startPrivatePostgres(await freePort());
    cluster = await startCluster({
      instances: 2,
      env: {
        JOBQL_DATABASE_URL: postgres.url,
        JOBQL_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        // Leases that pass within the 20 s outage, so that their handover is part of the battery.
        JOBQL_LEASE_TTL_MS: '3000',
        JOBQL_MAX_CONCURRENT_JOBS: '64',
        JOBQL_MAX_SUBMISSIONS_PER_MINUTE: '100000',
        JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: '100000',
        // Every subscriber has a socket of its own, as browsers do; here they all share one principal.
        JOBQL_MAX_SOCKETS_PER_PRINCIPAL: '1000',
      },
    });
  });
  after(async () => {
    await cluster?.stop();
    if (redis) await killRedis(redis);
    await postgres?.remove();
  });

  const outage = {
    async stop(dependency: Dependency): Promise<void> {
      if (dependency === 'redis') await killRedis(redis);
      else await postgres.kill();
    },
    async start(dependency: Dependency): Promise<void> {
      if (dependency === 'redis') redis = await startRedis(redisPort);
      else await postgres.start();
    },
  };

  /** The sum of a counter over both instances. */
  async function scraped(name: string): Promise<number> {
    let sum = 0;
    for (const instance of cluster.instances) {
      const text = await (await fetch(new URL('/metrics', instance.url), { signal: AbortSignal.timeout(5000) })).text();
      sum += Number(text.split('\n').find((line) => line.startsWith(name))?.split(' ').at(-1) ?? Number.NaN);
    }
    return sum;
  }

  async function allReady(): Promise<boolean> {
    const answers = await Promise.all(
      cluster.instances.map(async (instance) => {
        const response = await fetch(new URL('/readyz', instance.url), { signal: AbortSignal.timeout(5000) }).catch(() => null);
        return response ? ((await response.json()) as { status: string }).status : 'no answer';
      }),
    );
    return answers.every((status) => status === 'ok');
  }

  for (const [dependency, outageMs] of [
    ['redis', 2000],
    ['redis', 20_000],
    ['postgresql', 2000],
    ['postgresql', 20_000],
  ] as const) {
    test(`${dependency} away for ${outageMs / 1000} s`, async (t) => {
      const scenario = `${dependency}-${outageMs}`;
      const spreadMs = outageMs + 8000;
      const jobs = Array.from({ length: JOBS }, (_, k) => ({
        k,
        submitAt: Math.round(random() * spreadMs),
        sleepMs: 300 + Math.round(random() * 4700),
        instance: k % 2,
      }));
      const outageAt = 1000 + Math.round(random() * 3000);
      const outagesMetric = `jobql_dependency_outages_total{dependency="${dependency}"}`;
      const outagesBefore = await scraped(outagesMetric);
      const catchUpsBefore = await scraped('jobql_subscription_catch_ups_total');
      const start = Date.now();
      const deadline = start + spreadMs + outageMs + 60_000;
      const refused = new Tally();
      const subscriptionFailures = new Tally();

      let returnedAt = Number.NaN;
      let readyAfterMs = Number.NaN;
      const outageDone = (async () => {
        await sleep(outageAt);
        await outage.stop(dependency);
        await sleep(outageMs);
        await outage.start(dependency);
        returnedAt = Date.now();
        await waitFor(() => allReady(), { timeoutMs: 60_000, intervalMs: 100, what: `both instances ready after ${dependency} returned` });
        readyAfterMs = Date.now() - returnedAt;
      })();

      const results = await Promise.all(
        jobs.map(async (job) => {
          await sleep(job.submitAt);
          const instance = cluster.instances[job.instance]!;
          const sql = `select ${job.k} as n /* sleep ${job.sleepMs} */ /* battery ${scenario} ${job.k} */`;
          const submitted = await submitPatiently(instance.url, sql, `${scenario}-${job.k}`, deadline, refused);
          if (!submitted) return { job, submitted, followed: [] };
          const followed = await Promise.all(
            cluster.instances.map((other) => follow(other.wsUrl, submitted.id, deadline, subscriptionFailures)),
          );
          return { job, submitted, followed };
        }),
      );
      await outageDone;

      // Every job's query ran on the warehouse exactly once; when it ended there.
      const queries = new Map<number, { runs: number; endTime: number }>();
      for (const query of cluster.double.queries.values()) {
        const marker = new RegExp(`/\\* battery ${scenario} (\\d+) \\*/`).exec(query.sqlText)?.[1];
        if (marker === undefined) continue;
        const k = Number(marker);
        queries.set(k, { runs: (queries.get(k)?.runs ?? 0) + 1, endTime: query.endTime });
      }
      const runTwice = [...queries.values()].filter((q) => q.runs > 1).length;
      const neverRun = JOBS - queries.size;

      let lost = 0;
      let missed = 0;
      /** For jobs that ended on the warehouse before the dependency returned: when the last subscriber had the end. */
      let caughtUpMs = 0;
      /** For the others: the longest time from the warehouse's end to a subscriber's SUCCESS. */
      let endToEventMs = 0;
      let acceptedAgainMs = Number.NaN;
      for (const { job, submitted, followed } of results) {
        if (!submitted) {
          lost += 1;
          continue;
        }
        if (submitted.afterRefusal && submitted.at > returnedAt) {
          acceptedAgainMs = Math.min(Number.isNaN(acceptedAgainMs) ? Infinity : acceptedAgainMs, submitted.at - returnedAt);
        }
        // What the store says the job went through, read at the end by a subscriber of our own.
        const history = await historyOf(cluster.instances[0]!.wsUrl, submitted.id);
        assert.deepEqual(history, history.map((entry, i) => ({ ...entry, sequence: i + 1 })), `job ${job.k}: its stored history is gap-free`);
        if (history.at(-1)?.status !== 'SUCCESS') lost += 1;
        const endedAt = queries.get(job.k)?.endTime ?? Number.NaN;
        for (const seen of followed) {
          const got = seen.map(({ sequence, status }) => ({ sequence, status }));
          if (JSON.stringify(got) !== JSON.stringify(history)) missed += 1;
          const end = seen.at(-1);
          if (!end) continue;
          if (endedAt < returnedAt) caughtUpMs = Math.max(caughtUpMs, end.at - returnedAt);
          else endToEventMs = Math.max(endToEventMs, end.at - endedAt);
        }
      }

      const outagesCounted = (await scraped(outagesMetric)) - outagesBefore;
      const catchUps = (await scraped('jobql_subscription_catch_ups_total')) - catchUpsBefore;
      const figures =
        `${scenario}: seed ${BATTERY_SEED}, outage at ${outageAt} ms; jobs ${JOBS}, lost ${lost}, never run ${neverRun}, ` +
        `run twice ${runTwice}, subscribers ${JOBS * cluster.instances.length}, missed a transition ${missed}; ` +
        `submissions refused ${refused.total()} ${refused}; subscription failures ${subscriptionFailures.total()} ${subscriptionFailures}; ` +
        `after ${dependency} returned: ready in ${readyAfterMs} ms, submissions accepted in ${Number.isNaN(acceptedAgainMs) ? 'n/a (none refused)' : `${acceptedAgainMs} ms`}, ` +
        `ends from the outage delivered in ${caughtUpMs} ms; later ends delivered within ${endToEventMs} ms; ` +
        `outages counted ${outagesCounted}, catch-ups ${catchUps}`;
      t.diagnostic(figures);
      console.log(figures);

      assert.equal(lost, 0, figures);
      assert.equal(neverRun, 0, figures);
      assert.equal(runTwice, 0, figures);
      assert.equal(missed, 0, figures);
      for (const code of refused.counts.keys()) assert.ok(['SERVICE_UNAVAILABLE', 'RATE_LIMITED'].includes(code), figures);
      assert.ok(readyAfterMs < 30_000, figures);
      assert.equal(outagesCounted, cluster.instances.length, `each instance counted the outage once: ${figures}`);
    });
  }
});
