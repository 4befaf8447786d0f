/**
 * GET /metrics: the Prometheus text format, scraped before and after real work (a job run to its
 * end under a WebSocket subscription, a cancelled long job, a result page, downloads), with every
 * metric checked to have moved as it should. Also: no authentication needed, nothing about jobs or
 * principals revealed, 404 when turned off, and the poller's status-call hook on its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StatusCallObserver, Poller } from '../../src/jobs/poller.ts';
import type { Warehouse } from '../../src/warehouses/warehouse.ts';
import type { QueryState } from '../../src/core/results.ts';
import { newApiKey } from '../helpers/auth.ts';
import { collect, gqlData, JOB_FIELDS, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WaitForTimeout, waitFor } from '../helpers/wait-for.ts';

/** About 90 s of CPU: it only ends early if something stops it. */
const LONG_SQL = 'select sum(hash(range)) from range(10000000000)';
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } } }`;
const SUBSCRIPTION = 'subscription($id: ID!) { jobStatus(id: $id) { kind status sequence } }';
const PRINCIPAL_NAME = 'metrics-probe-tenant';
const PROMETHEUS_TEXT = /^text\/plain; version=0\.0\.4; charset=utf-8$/;

/** Every jobql metric, with its type. */
const JOBQL_METRICS: Record<string, string> = {
  jobql_jobs: 'gauge',
  jobql_job_transitions_total: 'counter',
  jobql_submissions_total: 'counter',
  jobql_attached_queries_total: 'counter',
  jobql_warehouse_status_calls_total: 'counter',
  jobql_warehouse_status_call_errors_total: 'counter',
  jobql_warehouse_queries_checked_total: 'counter',
  jobql_warehouse_status_call_duration_seconds: 'histogram',
  jobql_poller_tracked_jobs: 'gauge',
  jobql_subscriptions: 'gauge',
  jobql_job_end_to_event_seconds: 'histogram',
  jobql_websocket_sockets: 'gauge',
  jobql_event_bus_listeners: 'gauge',
  jobql_result_downloads_total: 'counter',
  jobql_result_bytes_served_total: 'counter',
  jobql_result_rows_served_total: 'counter',
};

/** A scrape: the raw text, and each sample by `name{labels}` as it is written. */
interface Scrape {
  text: string;
  samples: Map<string, number>;
}

/** The minimal reading of the text format a test needs: comments skipped, `series value` lines. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A sample's value; fails the test when the series is missing. */
function value(scrape: Scrape, series: string): number {
  const found = scrape.samples.get(series);
  assert.notEqual(found, undefined, `no series ${series} in the scrape`);
  return found as number;
}

function delta(before: Scrape, afterwards: Scrape, series: string): number {
  return value(afterwards, series) - value(before, series);
}

let server: TestServer;
let base: string;
let key: string;

async function scrape(): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', PROMETHEUS_TEXT);
  const text = await response.text();
  return { text, samples: parse(text) };
}

/** Scrapes until `ready` holds (gauges follow sockets closing on the server a moment later). */
async function scrapeUntil(ready: (s: Scrape) => boolean, timeoutMs = 5000): Promise<Scrape> {
  let last: Scrape | undefined;
  try {
    return await waitFor(
      async () => {
        last = await scrape();
        return ready(last) && last;
      },
      { timeoutMs, what: 'the scrape to be ready' },
    );
  } catch (error) {
    // The last scrape, for the assertions on it to tell which value is off.
    if (error instanceof WaitForTimeout && last) return last;
    throw error;
  }
}

before(async () => {
  const probe = newApiKey(PRINCIPAL_NAME, false);
  key = probe.key;
  // Authentication on, so that the scrapes below prove /metrics needs none.
  server = await startServer({ JOBQL_API_KEYS: probe.entry, JOBQL_MAX_CONCURRENT_JOBS: '1' });
  base = server.app.url;
});
after(() => server.stop());

describe('GET /metrics', () => {
  test('answers in the Prometheus text format without credentials, while GraphQL wants them', async () => {
    const graphql = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ jobs { nodes { id } } }' }),
    });
    assert.equal(graphql.status, 401);

    const { text, samples } = await scrape();
    for (const [name, type] of Object.entries(JOBQL_METRICS)) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has HELP text`);
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`);
    }
    // prom-client's defaults, on the same registry.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(samples.has(name), `default metric ${name}`);
    }
    // Labelled series exist at 0 before anything happened, so rate() works from the first scrape.
    assert.equal(samples.get('jobql_job_transitions_total{status="ABORTED"}'), 0);
    assert.equal(samples.get('jobql_result_bytes_served_total{format="parquet"}'), 0);

    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: '' });
    assert.equal(post.status, 405);
  });

  test('every metric moves with a subscribed job, a cancelled one, a result page and downloads', async () => {
    const before = await scrape();
    const statsBefore = { ...server.app.jobs.poller.stats };

    // The long job takes the only slot, so the short one waits QUEUED while we watch it.
    const long = await submit(server.url, LONG_SQL, {}, key);
    await waitForStatus(server.url, long.id, 'RUNNING', 30_000, key);
    const job = await submit(server.url, 'select 42', {}, key);
    assert.equal(job.status, 'QUEUED');

    const client = wsClient(server.wsUrl, key);
    let jobIds: string[];
    try {
      const events = collect(client, SUBSCRIPTION, { id: job.id });
      const missing = await collect(client, SUBSCRIPTION, { id: 'job_missing' });
      assert.ok(missing.errors, 'an unknown job ends its subscription with an error');

      const during = await scrapeUntil((s) => s.samples.get('jobql_subscriptions') === 1);
      assert.equal(value(during, 'jobql_subscriptions'), 1, 'the unknown job left no subscription behind');
      assert.equal(value(during, 'jobql_websocket_sockets'), 1);
      assert.ok(value(during, 'jobql_event_bus_listeners') >= 1);
      assert.equal(value(during, 'jobql_poller_tracked_jobs'), 1, 'only the running job is polled');
      assert.equal(delta(before, during, 'jobql_jobs{status="RUNNING"}'), 1);
      assert.equal(delta(before, during, 'jobql_jobs{status="QUEUED"}'), 1);

      const cancelled = await gqlData(server.url, CANCEL, { id: long.id }, key);
      assert.equal(cancelled.cancelJob.job.status, 'ABORTING');
      assert.equal((await waitForEnd(server.url, long.id, 10_000, JOB_FIELDS, key)).status, 'ABORTED');

      const { events: seen, errors } = await events;
      assert.equal(errors, null);
      // Its transitions; QUEUE_POSITION events may come between them while it waits.
      assert.deepEqual(
        seen.filter((e) => e.jobStatus.kind === 'TRANSITION').map((e) => e.jobStatus.status),
        ['QUEUED', 'RUNNING', 'SUCCESS'],
      );
      jobIds = [long.id, job.id];
    } finally {
      await client.dispose();
    }

    // A page with rows counts them; one without (totalRows only) does not.
    const page = await gqlData(server.url, `{ job(id: "${job.id}") { result { rows totalRows } } }`, {}, key);
    assert.deepEqual(page.job.result.rows, [[42]]);
    await gqlData(server.url, `{ job(id: "${job.id}") { result { totalRows } } }`, {}, key);

    const bytes: Record<string, number> = {};
    for (const format of ['csv', 'parquet']) {
      const response = await fetch(`${base}/jobs/${job.id}/result.${format}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 200);
      bytes[format] = (await response.arrayBuffer()).byteLength;
    }

    const afterwards = await scrapeUntil(
      (s) => s.samples.get('jobql_websocket_sockets') === 0 && s.samples.get('jobql_subscriptions') === 0,
    );
    const moved = (series: string): number => delta(before, afterwards, series);

    // Jobs by status, from the store.
    assert.equal(moved('jobql_jobs{status="SUCCESS"}'), 1);
    assert.equal(moved('jobql_jobs{status="ABORTED"}'), 1);
    assert.equal(value(afterwards, 'jobql_jobs{status="RUNNING"}'), 0);
    assert.equal(value(afterwards, 'jobql_jobs{status="QUEUED"}'), 0);

    // Submissions and transitions, from the bus.
    assert.equal(moved('jobql_submissions_total'), 2);
    assert.equal(moved('jobql_attached_queries_total'), 0);
    assert.equal(moved('jobql_job_transitions_total{status="QUEUED"}'), 0, 'creating a job is not a transition');
    assert.equal(moved('jobql_job_transitions_total{status="RUNNING"}'), 2);
    assert.equal(moved('jobql_job_transitions_total{status="ABORTING"}'), 1);
    assert.equal(moved('jobql_job_transitions_total{status="ABORTED"}'), 1);
    assert.equal(moved('jobql_job_transitions_total{status="SUCCESS"}'), 1);
    assert.equal(moved('jobql_job_transitions_total{status="FAILED_WITH_ERROR"}'), 0);

    // Warehouse status calls, from the poller's hook: the same as the poller's own counts.
    const stats = server.app.jobs.poller.stats;
    const calls = moved('jobql_warehouse_status_calls_total');
    assert.ok(calls >= 2, `status calls: ${calls}`);
    assert.equal(calls, stats.statusCalls - statsBefore.statusCalls);
    assert.equal(moved('jobql_warehouse_queries_checked_total'), stats.queriesChecked - statsBefore.queriesChecked);
    assert.equal(moved('jobql_warehouse_status_call_duration_seconds_count'), calls);
    assert.equal(moved('jobql_warehouse_status_call_duration_seconds_bucket{le="+Inf"}'), calls);
    assert.ok(moved('jobql_warehouse_status_call_duration_seconds_sum') > 0);
    assert.equal(moved('jobql_warehouse_status_call_errors_total'), 0);
    assert.equal(value(afterwards, 'jobql_poller_tracked_jobs'), 0);

    // One terminal event reached a live subscriber (the cancelled job had none), within seconds.
    assert.equal(moved('jobql_job_end_to_event_seconds_count'), 1);
    const lateness = moved('jobql_job_end_to_event_seconds_sum');
    assert.ok(lateness >= 0 && lateness < 5, `end to event: ${lateness} s`);
    assert.equal(moved('jobql_job_end_to_event_seconds_bucket{le="30"}'), 1);

    // Subscriptions, sockets and listeners are back to zero.
    assert.equal(value(afterwards, 'jobql_subscriptions'), 0);
    assert.equal(value(afterwards, 'jobql_websocket_sockets'), 0);
    assert.equal(value(afterwards, 'jobql_event_bus_listeners'), 0);

    // Results served.
    assert.equal(moved('jobql_result_rows_served_total{via="graphql"}'), 1);
    assert.equal(moved('jobql_result_downloads_total{format="csv"}'), 1);
    assert.equal(moved('jobql_result_downloads_total{format="parquet"}'), 1);
    assert.equal(moved('jobql_result_downloads_total{format="ndjson"}'), 0);
    assert.equal(moved('jobql_result_bytes_served_total{format="csv"}'), bytes['csv']);
    assert.equal(moved('jobql_result_bytes_served_total{format="parquet"}'), bytes['parquet']);

    // Counts only: no job id, SQL or principal anywhere in the scrape.
    for (const secret of [...jobIds, 'select 42', 'hash(range)', PRINCIPAL_NAME, key]) {
      assert.ok(!afterwards.text.includes(secret), `the scrape does not contain ${secret}`);
    }
  });
});

describe('JOBQL_METRICS=false', () => {
  let off: TestServer;
  before(async () => {
    off = await startServer({ JOBQL_METRICS: 'false' });
  });
  after(() => off.stop());

  test('/metrics is 404, everything else works', async () => {
    const response = await fetch(`${off.app.url}/metrics`);
    assert.equal(response.status, 404);
    assert.doesNotMatch(response.headers.get('content-type') ?? '', PROMETHEUS_TEXT);
    assert.equal((await fetch(`${off.app.url}/healthz`)).status, 200);
    const job = await submit(off.url, 'select 1');
    assert.equal((await waitForEnd(off.url, job.id)).status, 'SUCCESS');
  });
});

describe('the poller status-call hook', () => {
  test('reports each warehouse status call: duration, queries asked, failure', async () => {
    let failing = false;
    const state: QueryState = { status: 'SUCCESS', startedAt: null, endedAt: null, error: null, progress: null, dml: null };
    const fake = {
      onChange: () => () => {},
      status: async (ids: readonly string[]): Promise<Map<string, QueryState>> => {
        // A real 20 ms: the reported duration is measured with performance.now(), which no mock fakes.
        await new Promise((r) => setTimeout(r, 20));
        if (failing) throw new Error('warehouse down');
        return new Map(ids.map((id) => [id, state]));
      },
    };
    const errors: unknown[] = [];
    const poller = new Poller({
      warehouse: fake as unknown as Warehouse,
      backoffMs: [0],
      onState: async () => true,
      onError: (error) => errors.push(error),
    });
    const seen: Parameters<StatusCallObserver>[] = [];
    let wake = (): void => {};
    poller.observe((...call) => {
      seen.push(call);
      wake();
    });
    const nextCall = (): Promise<void> => new Promise((resolve) => (wake = resolve));
    try {
      let called = nextCall();
      poller.track('job_a', 'q-a');
      poller.track('job_b', 'q-b');
      await called;
      assert.equal(seen.length, 1, 'one call for both due queries');
      const [seconds, queries, failed] = seen[0] ?? [];
      assert.equal(queries, 2);
      assert.equal(failed, false);
      assert.ok(typeof seconds === 'number' && seconds >= 0.015 && seconds < 5, `duration ${seconds} s`);

      failing = true;
      called = nextCall();
      poller.track('job_c', 'q-c');
      await called;
      assert.deepEqual(seen[1]?.slice(1), [1, true]);
      await new Promise((r) => setImmediate(r));
      assert.match(String(errors[0]), /warehouse down/, 'the failure itself still goes to onError');
      assert.ok(poller.stats.statusCalls >= 2);

      // A throwing observer is reported, not fatal (q-c is retried at once: the backoff is 0).
      poller.observe(() => {
        throw new Error('observer broke');
      });
      failing = false;
      await waitFor(() => poller.trackedCount === 0, { timeoutMs: 5000, what: 'the state to be applied although the observer threw' });
      assert.ok(errors.some((e) => String(e).includes('observer broke')));
    } finally {
      await poller.stop();
    }
  });
});
